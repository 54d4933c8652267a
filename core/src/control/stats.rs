//! Request counters for `/_edgecache/stats`. Each isolate counts its requests per minute and
//! per route, host and backend (a `Delta`), and sends what it counted to the control plane,
//! which keeps one row per minute and name for a day; `Report` reads its sums back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::control::heavy::{HeavyHitters, Limits, Tally};
use crate::control::origin_times::{OriginAnswer, OriginTimes};
use crate::control::why::{NotStored, Notes};
use crate::status::{Fwd, Outcome, Reason};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Served fresh from storage, or from another request's fetch (collapsed).
    pub hits: u64,
    /// Served stale from storage (stale-while-revalidate, max-stale, stale-if-error).
    pub stale: u64,
    /// Went to the origin for an answer the cache could have held.
    pub misses: u64,
    /// Never looked up: bypass routes, uncacheable methods, configuration errors.
    pub bypasses: u64,
    pub bytes_from_cache: u64,
    /// Misses whose answer was not stored (private, `Set-Cookie`, …): they could not have
    /// been hits.
    #[serde(default)]
    pub not_stored: u64,
    /// Why requests were bypassed or answers not stored.
    #[serde(default)]
    pub reasons: BTreeMap<String, u64>,
    /// Requests answered without an origin request (`kept_from_origin`): from storage, by
    /// another request's fetch, or by the shield from its storage or its own fetch for
    /// another location.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kept: u64,
    /// Body bytes of those answers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kept_bytes: u64,
    /// Of `kept`, what the shield answered without asking the origin (counted by the shield).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shield_kept: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shield_kept_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Counters {
    pub fn add(&mut self, other: &Counters) {
        self.hits += other.hits;
        self.stale += other.stale;
        self.misses += other.misses;
        self.bypasses += other.bypasses;
        self.bytes_from_cache += other.bytes_from_cache;
        self.not_stored += other.not_stored;
        for (reason, n) in &other.reasons {
            *self.reasons.entry(reason.clone()).or_default() += n;
        }
        self.kept += other.kept;
        self.kept_bytes += other.kept_bytes;
        self.shield_kept += other.shield_kept;
        self.shield_kept_bytes += other.shield_kept_bytes;
    }

    /// Share of the requests answered without an origin request (the origin's offload).
    pub fn offload(&self) -> f64 {
        let requests = self.requests();
        if requests == 0 {
            0.0
        } else {
            (self.kept as f64 / requests as f64).min(1.0)
        }
    }

    /// Of the requests kept from the origin, the share the shield kept.
    pub fn shield_share(&self) -> f64 {
        if self.kept == 0 {
            0.0
        } else {
            self.shield_kept as f64 / self.kept as f64
        }
    }

    /// Every request counted.
    pub fn requests(&self) -> u64 {
        self.hits + self.stale + self.misses + self.bypasses
    }

    /// Share of the requests that could have been answered from storage (hits, stale and
    /// misses whose answer was stored) that were.
    pub fn storable_hit_ratio(&self) -> f64 {
        let served = self.hits + self.stale;
        let total = served + self.misses.saturating_sub(self.not_stored);
        if total == 0 {
            0.0
        } else {
            served as f64 / total as f64
        }
    }

    /// Share of all requests that could not have been answered from storage: bypassed, or
    /// their answer not stored.
    pub fn uncacheable_share(&self) -> f64 {
        let requests = self.requests();
        if requests == 0 {
            0.0
        } else {
            (self.bypasses + self.not_stored) as f64 / requests as f64
        }
    }

    /// Share of looked-up requests answered from storage.
    pub fn hit_ratio(&self) -> f64 {
        let served = self.hits + self.stale;
        let total = served + self.misses;
        if total == 0 {
            0.0
        } else {
            served as f64 / total as f64
        }
    }
}

impl Tally for Counters {
    fn weight(&self) -> u64 {
        self.requests()
    }

    fn add(&mut self, other: &Self) {
        Counters::add(self, other);
    }
}

/// How one outcome counts.
enum Kind {
    Hit,
    Stale,
    Miss,
    /// A miss whose answer was not stored.
    Unstored,
    Bypass,
}

fn classify(outcome: &Outcome) -> (Kind, Option<&'static str>) {
    match outcome {
        Outcome::Hit { stale: None, .. } => (Kind::Hit, None),
        Outcome::Hit { stale: Some(_), .. } => (Kind::Stale, None),
        Outcome::Forward {
            collapsed: true, ..
        } => (Kind::Hit, None),
        Outcome::Forward {
            fwd: Fwd::Stale,
            reason: Some(Reason::StaleIfError),
            ..
        } => (Kind::Stale, None),
        Outcome::Forward {
            fwd: Fwd::Bypass,
            reason,
            ..
        } => (Kind::Bypass, reason.map(Reason::as_str)),
        Outcome::Forward {
            fwd: Fwd::Method, ..
        } => (Kind::Bypass, Some("method")),
        Outcome::Forward {
            reason,
            stored: false,
            ..
        } => (Kind::Unstored, reason.map(Reason::as_str)),
        // A stored answer's detail (`shield-unavailable`) is not a reason it was not stored.
        Outcome::Forward { .. } => (Kind::Miss, None),
    }
}

/// How one request answered with `outcome` counts, with `bytes` served from storage.
fn one_request(outcome: &Outcome, bytes: u64) -> (Kind, Counters) {
    let (kind, reason) = classify(outcome);
    let mut one = Counters::default();
    match kind {
        Kind::Hit => one.hits = 1,
        Kind::Stale => one.stale = 1,
        Kind::Miss => one.misses = 1,
        Kind::Unstored => {
            one.misses = 1;
            one.not_stored = 1;
        }
        Kind::Bypass => one.bypasses = 1,
    }
    if matches!(kind, Kind::Hit | Kind::Stale) {
        one.bytes_from_cache = bytes;
    }
    if let Some(reason) = reason {
        one.reasons.insert(reason.to_string(), 1);
    }
    if kept_from_origin(outcome) {
        one.kept = 1;
        one.kept_bytes = bytes;
    }
    (kind, one)
}

/// Whether a request answered with `outcome` was answered without an origin request of its
/// own: from storage (fresh, or stale while a refresh runs or as `max-stale` allows), or by
/// another request's fetch (collapsed). A stale answer for an origin that failed
/// (`stale-if-error`) asked the origin first. A refresh started in the background by a stale
/// answer is not counted against it. Answers a location got from the shield are counted by
/// the shield (`Delta::record_shield_kept`), which alone knows whether it asked the origin.
pub fn kept_from_origin(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Hit { .. }
            | Outcome::Forward {
                collapsed: true,
                ..
            }
    )
}

/// The body bytes an answer from storage sent, of `stored` bytes held: none for a `HEAD` or a
/// `304` (RFC 9110 §9.3.2, §15.4.5), the range of a `206` (its `Content-Range`, RFC 9110
/// §14.4), else all of them.
pub fn body_bytes_sent(
    method: &str,
    status: Option<u16>,
    content_range: Option<&str>,
    stored: u64,
) -> u64 {
    if method.eq_ignore_ascii_case("HEAD") || status == Some(304) {
        return 0;
    }
    if status != Some(206) {
        return stored;
    }
    // `bytes first-last/complete`
    content_range
        .and_then(|range| range.trim().strip_prefix("bytes "))
        .and_then(|range| range.split('/').next())
        .and_then(|span| span.split_once('-'))
        .and_then(|(first, last)| {
            Some((
                first.trim().parse::<u64>().ok()?,
                last.trim().parse::<u64>().ok()?,
            ))
        })
        .filter(|(first, last)| first <= last)
        .map_or(0, |(first, last)| (last - first + 1).min(stored))
}

/// Why a request answered with `outcome` was not stored (bypassed or its answer not kept),
/// and how (`bypass` or `miss`); `None` when it was looked up and stored, or served.
pub fn not_stored(outcome: &Outcome) -> Option<(&'static str, &'static str)> {
    match classify(outcome) {
        (Kind::Bypass, Some(reason)) => Some((reason, "bypass")),
        (Kind::Unstored, Some(reason)) => Some((reason, "miss")),
        _ => None,
    }
}

/// Milliseconds in a minute: the unit of every count kept.
pub const MINUTE_MS: i64 = 60_000;
/// Minutes in the short window (the last hour, this minute included).
pub const HOUR_MINUTES: i64 = 60;
/// Minutes kept by the control plane (a day).
pub const DAY_MINUTES: i64 = 1_440;

/// What a row counts requests by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// The matching route's path pattern, or `default`: every request counts under one.
    Route,
    /// The request's host.
    Host,
    /// The tier a hit came from (hits only).
    Backend,
    /// The request's URL: host, path and query with its values hidden (`redact::url`).
    Url,
    /// The URL of a miss (the origin was asked for what could be stored).
    Miss,
    /// The URL of a request not stored: bypassed, or its answer not kept (with the reasons).
    Unstored,
    /// The status code answered.
    Status,
    /// The URL of an ESI fragment included in a page (host, path, query values hidden), with
    /// how it was answered. Fragments are counted here only: a page's totals count the page.
    Fragment,
    /// Each of the tags of the request's route (its `tags`).
    Tag,
}

impl Dimension {
    pub const ALL: [Dimension; 9] = [
        Dimension::Route,
        Dimension::Host,
        Dimension::Backend,
        Dimension::Url,
        Dimension::Miss,
        Dimension::Unstored,
        Dimension::Status,
        Dimension::Fragment,
        Dimension::Tag,
    ];

    /// As the control plane stores it and `/stats` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Route => "route",
            Dimension::Host => "host",
            Dimension::Backend => "backend",
            Dimension::Url => "url",
            Dimension::Miss => "miss",
            Dimension::Unstored => "unstored",
            Dimension::Status => "status",
            Dimension::Fragment => "fragment",
            Dimension::Tag => "tag",
        }
    }

    /// The name under which requests for names not kept are counted.
    pub fn other_name(self) -> &'static str {
        match self {
            Dimension::Route => "(other routes)",
            Dimension::Host => OTHER_HOSTS,
            Dimension::Backend => "(other backends)",
            Dimension::Url | Dimension::Miss | Dimension::Unstored | Dimension::Fragment => {
                "(other URLs)"
            }
            Dimension::Status => "(other statuses)",
            Dimension::Tag => "(other tags)",
        }
    }
}

/// Where requests for hosts not kept by name are counted.
pub const OTHER_HOSTS: &str = "(other hosts)";

/// The start of the minute holding `ms`.
pub fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(MINUTE_MS)
}

/// What each isolate and the control plane keep per minute (or hour) and dimension: the 64
/// names with the most requests, 4 KiB of names at most (`heavy::HeavyHitters`). A wildcard
/// route (`*.example.com/*`) lets any client choose the host, so names are kept by traffic,
/// never by arrival: made-up names, however many, count under `Dimension::other_name` and
/// cannot push out a name that carries a share of the traffic.
pub const LIMITS: Limits = Limits {
    names: 64,
    bytes: 4_096,
};

/// Counts per name, for one minute (or hour) and dimension.
pub type Names = HeavyHitters<Counters>;

/// One dimension's names for one minute: what an isolate reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start of the minute, milliseconds since the epoch.
    pub minute: i64,
    pub kind: Dimension,
    #[serde(flatten)]
    pub names: Names,
}

/// How the stats name a URL: its canonical host, its path and its query, as sent (`record`
/// hides the query's values).
pub fn url_name(url: &url::Url) -> String {
    let host = crate::request::target::canonical_host(url);
    match url.query() {
        Some(query) => format!("{host}{}?{query}", url.path()),
        None => format!("{host}{}", url.path()),
    }
}

/// The name `record` keeps for `url_name`'s URL: its query values hidden, cut to a DNS
/// name's length like every name.
pub fn kept_url_name(url: &url::Url) -> String {
    crate::control::heavy::cut_name(&crate::redact::url(&url_name(url))).into_owned()
}

/// One request, as the stats count it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The matching route's pattern, or `default`: every request counts under one.
    pub route: &'a str,
    pub host: &'a str,
    /// Host, path and query (values are hidden before it is kept).
    pub url: &'a str,
    /// The status code answered, when there is one.
    pub status: Option<u16>,
    pub outcome: &'a Outcome,
    /// Bytes served from storage.
    pub bytes: u64,
    /// The tags of the request's route.
    pub tags: &'a [String],
}

/// What an isolate has counted since it last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    cells: BTreeMap<(i64, Dimension), Names>,
    /// The origin requests this isolate sent, per minute (a day of minutes at most).
    origin: Vec<OriginMinute>,
    /// The last reason each key was not stored (`why`).
    why: Notes,
}

/// One minute's origin requests, as an isolate reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginMinute {
    pub minute: i64,
    pub times: OriginTimes,
}

impl Delta {
    /// Counts one request, `seen`.
    pub fn record(&mut self, seen: &Seen<'_>, now_ms: i64) {
        let (kind, one) = one_request(seen.outcome, seen.bytes);
        let minute = minute_of(now_ms);
        let url = crate::redact::url(seen.url);
        let status = seen.status.map(|s| s.to_string());
        let mut names = vec![
            (Dimension::Route, seen.route),
            (Dimension::Host, seen.host),
            (Dimension::Url, url.as_str()),
        ];
        if let Outcome::Hit { tier, .. } = seen.outcome {
            names.push((Dimension::Backend, tier.as_str()));
        }
        match kind {
            Kind::Miss => names.push((Dimension::Miss, url.as_str())),
            Kind::Unstored => {
                names.push((Dimension::Miss, url.as_str()));
                names.push((Dimension::Unstored, url.as_str()));
            }
            Kind::Bypass => names.push((Dimension::Unstored, url.as_str())),
            Kind::Hit | Kind::Stale => {}
        }
        if let Some(status) = &status {
            names.push((Dimension::Status, status.as_str()));
        }
        for tag in seen.tags {
            names.push((Dimension::Tag, tag.as_str()));
        }
        for (dimension, name) in names {
            self.cells
                .entry((minute, dimension))
                .or_default()
                .add(name, &one, LIMITS);
        }
    }

    /// Counts one ESI fragment's request, answered with `outcome`, under its URL (`url_name`'s
    /// form): in the fragment dimension only, as the page counts as the request.
    pub fn record_fragment(&mut self, url: &str, outcome: &Outcome, bytes: u64, now_ms: i64) {
        let (_, one) = one_request(outcome, bytes);
        self.cells
            .entry((minute_of(now_ms), Dimension::Fragment))
            .or_default()
            .add(&crate::redact::url(url), &one, LIMITS);
    }

    /// Counts what the shield answered a location without asking the origin (from its
    /// storage, or by its fetch for another request), `bytes` of body, under the route, host
    /// and tags the location counted the request under. The request itself is the location's
    /// to count: only `kept` and `shield_kept` are added here.
    pub fn record_shield_kept(
        &mut self,
        route: &str,
        host: &str,
        tags: &[String],
        bytes: u64,
        now_ms: i64,
    ) {
        let one = Counters {
            kept: 1,
            kept_bytes: bytes,
            shield_kept: 1,
            shield_kept_bytes: bytes,
            ..Counters::default()
        };
        let minute = minute_of(now_ms);
        let names = [(Dimension::Route, route), (Dimension::Host, host)]
            .into_iter()
            .chain(tags.iter().map(|tag| (Dimension::Tag, tag.as_str())));
        for (dimension, name) in names {
            self.cells
                .entry((minute, dimension))
                .or_default()
                .add(name, &one, LIMITS);
        }
    }

    /// Counts one origin request this isolate sent.
    pub fn record_origin(&mut self, answered: OriginAnswer, now_ms: i64) {
        self.origin_at(minute_of(now_ms)).count(answered);
    }

    /// Notes why the key `id` was not stored (`why::Notes`).
    pub fn note_not_stored(&mut self, id: i64, note: NotStored) {
        self.why.note(id, note);
    }

    /// `record` for a request whose URL is its host, with no status (tests).
    #[cfg(test)]
    pub fn count(&mut self, route: &str, host: &str, outcome: &Outcome, bytes: u64, now: i64) {
        let seen = Seen {
            route,
            host,
            url: host,
            status: None,
            outcome,
            bytes,
            tags: &[],
        };
        self.record(&seen, now);
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty() && self.origin.is_empty() && self.why.is_empty()
    }

    /// Adds counts that could not be reported (a failed send) back in.
    pub fn merge(&mut self, other: Delta) {
        for (cell, names) in other.cells {
            self.cells.entry(cell).or_default().merge(&names, LIMITS);
        }
        for origin in other.origin {
            self.origin_at(origin.minute).add(&origin.times);
        }
        self.why.merge(other.why);
    }

    /// Forgets minutes the control plane no longer keeps, so that counts held back while it
    /// cannot be reached take bounded memory.
    pub fn forget_before(&mut self, now_ms: i64) {
        let oldest = minute_of(now_ms) - (DAY_MINUTES - 1) * MINUTE_MS;
        self.cells.retain(|(minute, _), _| *minute >= oldest);
        self.origin.retain(|origin| origin.minute >= oldest);
        self.why.forget_before(oldest);
    }

    /// What to report of the origin requests: each minute's.
    pub fn origin_minutes(&self) -> Vec<OriginMinute> {
        self.origin.clone()
    }

    /// The origin requests of `minute`, a new row when there is none.
    fn origin_at(&mut self, minute: i64) -> &mut OriginTimes {
        let at = match self.origin.iter().position(|o| o.minute == minute) {
            Some(at) => at,
            None => {
                self.origin.push(OriginMinute {
                    minute,
                    times: OriginTimes::default(),
                });
                self.origin.len() - 1
            }
        };
        &mut self.origin[at].times
    }

    /// What to report of the keys not stored.
    pub fn notes(&self) -> Vec<(i64, NotStored)> {
        self.why.list()
    }

    /// What to report: each minute's names per dimension.
    pub fn buckets(&self) -> Vec<Bucket> {
        self.cells
            .iter()
            .map(|((minute, kind), names)| Bucket {
                minute: *minute,
                kind: *kind,
                names: names.clone(),
            })
            .collect()
    }
}

/// Where the two windows start: the last hour's and the last day's first minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windows {
    pub hour_from: i64,
    pub day_from: i64,
}

impl Windows {
    pub fn at(now_ms: i64) -> Windows {
        let minute = minute_of(now_ms);
        Windows {
            hour_from: minute - (HOUR_MINUTES - 1) * MINUTE_MS,
            day_from: minute - (DAY_MINUTES - 1) * MINUTE_MS,
        }
    }
}

/// One minute's counts over every route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteTotals {
    pub minute: i64,
    pub hits: u64,
    pub stale: u64,
    pub misses: u64,
    pub bypasses: u64,
}

/// One window's sums: its total (exact) and the names kept in each dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub total: Counters,
    #[serde(default)]
    pub names: BTreeMap<Dimension, Names>,
}

/// The control plane's sums: per window, and per minute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sums {
    pub hour: Window,
    pub day: Window,
    pub minutes: Vec<MinuteTotals>,
    /// The origin requests of the last hour and the last day.
    #[serde(default)]
    pub origin_hour: OriginTimes,
    #[serde(default)]
    pub origin_day: OriginTimes,
    /// The note asked for (`stats_store::StatsReport::why_of`): why that key was last not stored.
    #[serde(default)]
    pub why: Option<NotStored>,
}

fn with_ratio(c: &Counters) -> Value {
    let mut value = serde_json::to_value(c).unwrap_or_default();
    value["hit_ratio"] = json!(c.hit_ratio());
    value["storable_hit_ratio"] = json!(c.storable_hit_ratio());
    value["uncacheable_share"] = json!(c.uncacheable_share());
    // Left out when nothing was kept, as the counts they are read from are: `/stats` stays
    // within its bound however many names it holds.
    if c.kept > 0 {
        value["offload"] = json!(c.offload());
        value["shield_share"] = json!(c.shield_share());
    }
    value
}

/// One dimension's names, most requests first in `/stats`'s reading (JSON objects keep
/// their keys' order only by name, so the dashboard sorts): each with its counts, its
/// `error` (requests it may have had before it was kept) when there can be any, and the
/// names not kept under `other_name`.
fn named(dimension: Dimension, names: Option<&Names>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(names) = names else {
        return out;
    };
    for (name, held) in &names.names {
        let mut value = with_ratio(&held.tally);
        if held.error > 0 {
            value["error"] = json!(held.error);
        }
        out.insert(name.clone(), value);
    }
    if names.other.requests() > 0 {
        let mut value = with_ratio(&names.other);
        if let Some(existing) = out.get(dimension.other_name()) {
            // A client may send the other-name as a host: its requests join the rest.
            let mut sum: Counters = serde_json::from_value(existing.clone()).unwrap_or_default();
            sum.add(&names.other);
            value = with_ratio(&sum);
        }
        out.insert(dimension.other_name().to_string(), value);
    }
    out
}

/// One window: its total and its counts per route, host and backend.
fn window(w: &Window, origin: &OriginTimes) -> Value {
    json!({
        "origin": origin.report(),
        "total": with_ratio(&w.total),
        "routes": named(Dimension::Route, w.names.get(&Dimension::Route)),
        "hosts": named(Dimension::Host, w.names.get(&Dimension::Host)),
        "backends": named(Dimension::Backend, w.names.get(&Dimension::Backend)),
        "urls": named(Dimension::Url, w.names.get(&Dimension::Url)),
        "miss_urls": named(Dimension::Miss, w.names.get(&Dimension::Miss)),
        "unstored_urls": named(Dimension::Unstored, w.names.get(&Dimension::Unstored)),
        "statuses": named(Dimension::Status, w.names.get(&Dimension::Status)),
        "fragments": named(Dimension::Fragment, w.names.get(&Dimension::Fragment)),
        "tags": named(Dimension::Tag, w.names.get(&Dimension::Tag)),
    })
}

/// `/stats`'s answer: the last hour and the last day, per route, host and backend; at the top
/// level the day's figures (as `/stats` has always answered) and the day's minutes.
pub fn report(sums: &Sums) -> Value {
    let hour = window(&sums.hour, &sums.origin_hour);
    let day = window(&sums.day, &sums.origin_day);
    let minutes: Vec<Value> = sums
        .minutes
        .iter()
        .map(|m| json!({ "at": m.minute, "hits": m.hits + m.stale, "stale": m.stale, "misses": m.misses, "bypasses": m.bypasses }))
        .collect();
    json!({
        "since": sums.minutes.first().map(|m| m.minute),
        "total": day["total"],
        "routes": day["routes"],
        "hosts": day["hosts"],
        "backends": day["backends"],
        "hour": hour,
        "day": day,
        "minutes": minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Backend;

    const NOW: i64 = 1_700_000_000_000;

    fn hit(tier: Backend) -> Outcome {
        Outcome::Hit {
            ttl: 5,
            tier,
            stale: None,
        }
    }

    fn find(buckets: &[Bucket], kind: Dimension, name: &str) -> Vec<(i64, Counters)> {
        buckets
            .iter()
            .filter(|b| b.kind == kind)
            .filter_map(|b| b.names.names.get(name).map(|h| (b.minute, h.tally.clone())))
            .collect()
    }

    #[test]
    fn outcomes_are_counted_per_minute_route_host_and_backend() {
        let mut delta = Delta::default();
        delta.count("/static/**", "a.test", &hit(Backend::Memory), 100, NOW);
        delta.count("/static/**", "a.test", &hit(Backend::Memory), 100, NOW + 1);
        let private = Outcome::forward(Fwd::Miss, Some(200), false, Some(Reason::Private));
        delta.count("/static/**", "b.test", &private, 0, NOW);
        let bypass = Outcome::bypass(Reason::RouteBypass);
        delta.count("default", "a.test", &bypass, 0, NOW + MINUTE_MS);
        let buckets = delta.buckets();
        let route = find(&buckets, Dimension::Route, "/static/**");
        assert_eq!(route.len(), 1, "one minute");
        let (minute, c) = &route[0];
        assert_eq!((c.hits, c.misses, c.bytes_from_cache), (2, 1, 200));
        assert_eq!(c.reasons["private"], 1);
        assert_eq!(*minute, minute_of(NOW));
        assert_eq!(
            find(&buckets, Dimension::Host, "a.test").len(),
            2,
            "two minutes"
        );
        assert_eq!(find(&buckets, Dimension::Host, "b.test")[0].1.misses, 1);
        assert_eq!(find(&buckets, Dimension::Backend, "memory")[0].1.hits, 2);
        let default = find(&buckets, Dimension::Route, "default");
        assert_eq!(default[0].1.reasons["route-bypass"], 1);
        assert_eq!(default[0].0, minute_of(NOW) + MINUTE_MS);
    }

    #[test]
    fn unsent_counts_are_merged_back_and_forgotten_after_a_day() {
        let mut sent = Delta::default();
        sent.count("default", "a.test", &hit(Backend::Kv), 10, NOW);
        let mut pending = Delta::default();
        pending.count("default", "a.test", &hit(Backend::Kv), 10, NOW);
        pending.merge(sent);
        let buckets = pending.buckets();
        assert_eq!(find(&buckets, Dimension::Route, "default")[0].1.hits, 2);
        pending.forget_before(NOW + (DAY_MINUTES - 1) * MINUTE_MS);
        assert!(!pending.is_empty(), "still within the day");
        pending.forget_before(NOW + DAY_MINUTES * MINUTE_MS);
        assert!(pending.is_empty());
    }

    #[test]
    fn windows_start_an_hour_and_a_day_of_minutes_back() {
        let w = Windows::at(NOW);
        assert_eq!(minute_of(NOW) - w.hour_from, 59 * MINUTE_MS);
        assert_eq!(minute_of(NOW) - w.day_from, 1439 * MINUTE_MS);
    }

    #[test]
    fn the_report_gives_totals_names_and_the_rest_per_window() {
        let mut delta = Delta::default();
        delta.count("/a", "a.test", &hit(Backend::Memory), 5, NOW);
        delta.count("/a", "a.test", &hit(Backend::Memory), 5, NOW);
        let miss = Outcome::forward(Fwd::Miss, Some(200), true, None);
        delta.count("/b", "b.test", &miss, 0, NOW);
        let names = |kind| {
            delta
                .buckets()
                .into_iter()
                .find(|b| b.kind == kind)
                .unwrap()
                .names
        };
        let mut hosts = names(Dimension::Host);
        hosts.other.misses = 4;
        let window = Window {
            total: names(Dimension::Route).total(),
            names: [
                (Dimension::Route, names(Dimension::Route)),
                (Dimension::Host, hosts),
                (Dimension::Backend, names(Dimension::Backend)),
            ]
            .into(),
        };
        let sums = Sums {
            hour: window.clone(),
            day: window,
            minutes: vec![MinuteTotals {
                minute: minute_of(NOW),
                hits: 2,
                stale: 1,
                misses: 1,
                bypasses: 0,
            }],
            ..Sums::default()
        };
        let report = report(&sums);
        assert_eq!(report["hour"]["total"]["hits"], 2);
        assert_eq!(report["hour"]["total"]["misses"], 1);
        assert_eq!(report["total"], report["day"]["total"]);
        assert_eq!(report["hour"]["hosts"]["a.test"]["hits"], 2);
        assert_eq!(report["hour"]["hosts"]["(other hosts)"]["misses"], 4);
        assert_eq!(report["day"]["routes"]["/b"]["misses"], 1);
        assert_eq!(report["backends"]["memory"]["hits"], 2);
        let ratio = report["hour"]["total"]["hit_ratio"].as_f64().unwrap();
        assert!((ratio - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            report["minutes"][0]["hits"], 3,
            "stale answers count as served"
        );
        assert_eq!(report["since"], minute_of(NOW));
    }

    #[test]
    fn a_real_host_keeps_its_name_past_any_number_of_made_up_hosts() {
        let mut delta = Delta::default();
        let hit = hit(Backend::Memory);
        delta.count("default", "www.example.com", &hit, 0, 60_000);
        for n in 0..5_000u32 {
            delta.count("default", &format!("h{n}.example.com"), &hit, 0, 60_000);
            if n.is_multiple_of(20) {
                delta.count("default", "www.example.com", &hit, 0, 60_000);
            }
        }
        let hosts = delta
            .buckets()
            .into_iter()
            .find(|b| b.kind == Dimension::Host)
            .unwrap()
            .names;
        assert!(hosts.names.len() <= LIMITS.names);
        let real = &hosts.names["www.example.com"];
        assert!(real.tally.hits + real.error >= 251);
        assert_eq!(hosts.total().hits, 5_251, "the others still count");
        let long = "a".repeat(4_000);
        delta.count("default", &long, &hit, 0, 60_000);
        assert!(delta
            .buckets()
            .iter()
            .all(|b| b.names.names.keys().all(|name| name.len() <= 253)));
    }

    #[test]
    fn urls_misses_and_unstored_answers_are_counted_with_their_reasons() {
        let mut delta = Delta::default();
        let seen = |url, status, outcome| Seen {
            route: "default",
            host: "a.test",
            url,
            status: Some(status),
            outcome,
            bytes: 0,
            tags: &[],
        };
        let stored = Outcome::forward(Fwd::Miss, Some(200), true, None);
        let private = Outcome::forward(Fwd::Miss, Some(200), false, Some(Reason::Private));
        let bypass = Outcome::bypass(Reason::RouteBypass);
        delta.record(&seen("a.test/page?token=secret", 200, &stored), NOW);
        let hit = hit(Backend::Memory);
        delta.record(&seen("a.test/page?token=secret", 200, &hit), NOW);
        delta.record(&seen("a.test/me", 200, &private), NOW);
        delta.record(&seen("a.test/api", 404, &bypass), NOW);
        let buckets = delta.buckets();
        let page = find(&buckets, Dimension::Url, "a.test/page?token=*");
        assert_eq!(page[0].1.requests(), 2, "query values are hidden");
        assert!(find(&buckets, Dimension::Url, "a.test/page?token=secret").is_empty());
        assert_eq!(
            find(&buckets, Dimension::Miss, "a.test/page?token=*")[0]
                .1
                .misses,
            1
        );
        let me = find(&buckets, Dimension::Unstored, "a.test/me");
        assert_eq!(me[0].1.reasons["private"], 1);
        assert_eq!(find(&buckets, Dimension::Miss, "a.test/me").len(), 1);
        let api = find(&buckets, Dimension::Unstored, "a.test/api");
        assert_eq!(api[0].1.reasons["route-bypass"], 1);
        assert!(find(&buckets, Dimension::Unstored, "a.test/page?token=*").is_empty());
        assert_eq!(find(&buckets, Dimension::Status, "404")[0].1.bypasses, 1);
        let total = find(&buckets, Dimension::Route, "default")[0].1.clone();
        assert_eq!((total.misses, total.not_stored), (2, 1));
        assert!((total.hit_ratio() - 1.0 / 3.0).abs() < 1e-9);
        assert!(
            (total.storable_hit_ratio() - 0.5).abs() < 1e-9,
            "the private miss could not have been a hit"
        );
        assert!((total.uncacheable_share() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn fragments_are_counted_by_url_apart_from_the_pages_totals() {
        let mut delta = Delta::default();
        let hit = hit(Backend::Memory);
        delta.record_fragment("a.test/frag/nav?v=1", &hit, 10, NOW);
        delta.record_fragment("a.test/frag/nav?v=1", &hit, 10, NOW);
        let buckets = delta.buckets();
        let nav = find(&buckets, Dimension::Fragment, "a.test/frag/nav?v=*");
        assert_eq!((nav[0].1.hits, nav[0].1.bytes_from_cache), (2, 20));
        assert!(
            find(&buckets, Dimension::Route, "default").is_empty(),
            "no request counted"
        );
    }

    #[test]
    fn requests_kept_from_the_origin_are_counted_with_their_bytes_per_route_host_and_tag() {
        let mut delta = Delta::default();
        let tags = vec!["news".to_string()];
        let seen = |outcome, bytes| Seen {
            route: "/news/**",
            host: "a.test",
            url: "a.test/news/1",
            status: Some(200),
            outcome,
            bytes,
            tags: &tags,
        };
        let collapsed = Outcome::Forward {
            fwd: Fwd::Miss,
            status: Some(200),
            stored: true,
            collapsed: true,
            reason: None,
        };
        let if_error = Outcome::forward(Fwd::Stale, Some(200), false, Some(Reason::StaleIfError));
        let miss = Outcome::forward(Fwd::Miss, Some(200), true, None);
        let hit = hit(Backend::Memory);
        delta.record(&seen(&hit, 100), NOW);
        delta.record(&seen(&collapsed, 100), NOW);
        delta.record(&seen(&if_error, 100), NOW);
        delta.record(&seen(&miss, 0), NOW);
        delta.record_shield_kept("/news/**", "a.test", &tags, 100, NOW);
        let buckets = delta.buckets();
        for (kind, name) in [
            (Dimension::Route, "/news/**"),
            (Dimension::Host, "a.test"),
            (Dimension::Tag, "news"),
        ] {
            let c = &find(&buckets, kind, name)[0].1;
            assert_eq!(c.requests(), 4, "{name}: the shield's count is no request");
            assert_eq!((c.kept, c.kept_bytes), (3, 300), "{name}");
            assert_eq!((c.shield_kept, c.shield_kept_bytes), (1, 100), "{name}");
            assert!((c.offload() - 0.75).abs() < 1e-9);
            assert!((c.shield_share() - 1.0 / 3.0).abs() < 1e-9);
        }
        assert!(
            find(&buckets, Dimension::Url, "a.test/news/1")[0]
                .1
                .shield_kept
                == 0,
            "the shield counts by route, host and tag"
        );
    }

    #[test]
    fn origin_times_and_notes_are_reported_and_forgotten_after_a_day() {
        let mut delta = Delta::default();
        delta.record_origin(
            OriginAnswer::Status {
                ms: 30,
                status: 200,
            },
            NOW,
        );
        delta.record_origin(OriginAnswer::Timeout, NOW);
        let note = NotStored {
            reason: "private".into(),
            how: "miss".into(),
            status: Some(200),
            at: NOW,
        };
        delta.note_not_stored(7, note.clone());
        assert!(
            !delta.is_empty(),
            "origin times and notes alone are worth a report"
        );
        assert_eq!(delta.origin_minutes()[0].times.requests, 2);
        assert_eq!(delta.notes(), vec![(7, note)]);
        let mut pending = Delta::default();
        pending.merge(delta);
        assert_eq!(pending.origin_minutes()[0].times.timeouts, 1);
        pending.forget_before(NOW + DAY_MINUTES * MINUTE_MS);
        assert!(pending.is_empty());
    }

    #[test]
    fn only_requests_not_stored_have_a_reason_to_note() {
        let private = Outcome::forward(Fwd::Miss, Some(200), false, Some(Reason::Private));
        assert_eq!(not_stored(&private), Some(("private", "miss")));
        let bypass = Outcome::bypass(Reason::RouteBypass);
        assert_eq!(not_stored(&bypass), Some(("route-bypass", "bypass")));
        let stored = Outcome::forward(Fwd::Miss, Some(200), true, None);
        assert_eq!(not_stored(&stored), None);
        assert_eq!(not_stored(&hit(Backend::Kv)), None);
    }

    #[test]
    fn the_bytes_sent_from_storage_leave_out_heads_not_modified_and_what_a_range_did_not_ask() {
        assert_eq!(body_bytes_sent("GET", Some(200), None, 1000), 1000);
        assert_eq!(body_bytes_sent("HEAD", Some(200), None, 1000), 0);
        assert_eq!(body_bytes_sent("GET", Some(304), None, 1000), 0);
        assert_eq!(
            body_bytes_sent("GET", Some(206), Some("bytes 100-199/1000"), 1000),
            100
        );
        assert_eq!(
            body_bytes_sent("GET", Some(206), Some("bytes */1000"), 1000),
            0
        );
        assert_eq!(body_bytes_sent("GET", Some(206), None, 1000), 0);
    }
}
