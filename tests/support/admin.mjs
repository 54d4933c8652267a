// The admin API as the integration tests call it.
import assert from "node:assert/strict";

/**
 * Purges `body` (`{ urls, prefixes, tags, everything, soft }`) through `target`'s admin API
 * (a worker or a location) with the admin `token`: asserts the purge was accepted (200) and
 * returns its answer.
 */
export async function purge(target, token, body) {
  const got = await target.fetch("/_edgecache/purge", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(got.status, 200, got.body);
  return JSON.parse(got.body);
}
