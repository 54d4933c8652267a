//! A 304 answered a revalidation: fold it into the stored response (RFC 9111 §4.3.4), judge
//! the result afresh, keep the body already held, and write the refreshed entry back.

use std::rc::Rc;

use worker::Context;

use crate::flow::answer::Answer;
use crate::flow::coalesce::{Leader, Settled};
use crate::flow::context::{AsSent, RequestContext};
use crate::flow::lookup::{delete_all, write_all, Found};
use crate::store::Entry;
use edgecache_core::decide::answer::{after_not_modified, AfterNotModified};
use edgecache_core::decide::store::{refreshed, replacing_by_304};
use edgecache_core::http::revalidate::merge_not_modified;
use edgecache_core::http::{storability, Exchange};
use edgecache_core::status::{Fwd, Outcome};

/// A 304 answered the request asked again without validators after a 304 that named another
/// response (`Judgement::NotModifiedAlone`): this client gets the stored body with the 304's
/// fields; nothing is kept or removed. The flight's followers (settled as a pass by the
/// caller) ask for themselves.
pub(super) fn not_modified_alone(
    found: &Found,
    update: &[(String, String)],
    outcome: Outcome,
) -> Answer {
    let stored = &found.entry.meta;
    let merged = merge_not_modified(stored.headers.clone(), update);
    Answer::Entry {
        entry: Entry::new(stored.with_headers(merged), found.entry.body.clone()),
        outcome,
        shareable: false,
    }
}

/// A 304 answered our conditional request: fold it into the stored response (RFC 9111
/// §4.3.4), judge the result afresh, and keep the body we already have. `as_sent`: what the
/// revalidation sent of the client's credentials (`decide::refresh`): one that carried a
/// credential the key does not hold writes and removes nothing.
#[allow(clippy::too_many_arguments)]
pub(super) fn not_modified(
    job: &Rc<RequestContext>,
    ctx: &Rc<Context>,
    found: &Found,
    update: &[(String, String)],
    exchange: Exchange,
    fwd: Fwd,
    leader: Option<Leader>,
    as_sent: &AsSent,
) -> Answer {
    let stored = &found.entry.meta;
    let merged = merge_not_modified(stored.headers.clone(), update);
    let verdict = storability(
        &as_sent.facts,
        stored.status,
        &merged,
        &job.plan.overrides,
        exchange,
    );
    let outcome = match after_not_modified(fwd, &verdict, as_sent.sent.beyond_key) {
        AfterNotModified::Refresh(outcome) => outcome,
        AfterNotModified::AnswerAlone {
            outcome,
            drop_stored,
        } => {
            drop(leader);
            if drop_stored {
                let tiers = job.clone();
                let key = found.entry.meta.key.clone();
                ctx.wait_until(async move {
                    delete_all(&tiers.tiers, &key).await;
                });
            }
            let entry = Entry::new(stored.with_headers(merged), found.entry.body.clone());
            return Answer::Entry {
                entry,
                outcome,
                shareable: false,
            };
        }
    };
    let Some(meta) = refreshed(stored, merged, verdict, exchange, &job.plan.tags) else {
        return Answer::Entry {
            entry: found.entry.clone(),
            outcome,
            shareable: false,
        };
    };
    let entry = Entry::new(meta, found.entry.body.clone());
    let marker = found.marker.clone();
    let keep = job.keep_secs(&entry.meta);
    let job_for_write = job.clone();
    let written = entry.clone();
    // As in `store`: the flight stays open until the refreshed entry is written, so a request
    // arriving meanwhile takes it from here instead of revalidating the old copy again.
    if let Some(leader) = &leader {
        leader.publish(Settled::Stored(entry.clone()));
    }
    // Unchanged (`decide::store::replacing_by_304`): KV is spared the rewrite while a faster
    // tier keeps the copy; a soft-purged entry is always rewritten.
    let replacing = replacing_by_304(fwd, stored, found.soft_purged);
    ctx.wait_until(async move {
        let tiers = job_for_write.tiers_to_write(replacing);
        write_all(tiers, (&written, marker.as_ref()), keep, job_for_write.now).await;
        drop(leader);
    });
    Answer::Entry {
        entry,
        outcome,
        shareable: true,
    }
}
