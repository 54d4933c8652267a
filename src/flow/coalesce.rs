//! Request coalescing within an isolate: concurrent misses for one key share one origin
//! fetch. The first request leads; the others wait for what it settles on. When the answer
//! cannot be stored (private, Set-Cookie, …) the followers go to the origin themselves and
//! the key is remembered as uncacheable for a while (hit-for-pass), so that private answers
//! are never shared and later requests do not queue behind each other for nothing.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::flow::origin::OriginError;
use crate::runtime::{now_ms, Sleep};
use crate::store::Entry;

/// What a leader's fetch came to.
#[derive(Clone)]
pub enum Settled {
    /// Stored: followers whose key matches may answer from it.
    Stored(Entry),
    /// Not storable: followers go to the origin themselves.
    Pass,
    /// The fetch failed (the origin broke off, or the leader went away): followers decide for
    /// themselves (stale-if-error, or their own try).
    Failed,
    /// The origin gave no answer (`origin-timeout`, `origin-unreachable`): followers decide
    /// as for `Failed`, but on a shielded route do not ask again
    /// (`decide::shield::tries_after_failed_flight`).
    Unreached(OriginError),
}

pub enum Flight {
    /// This request fetches; settle the leader when the answer is known.
    Leader(Leader),
    /// Another request is fetching the same key: poll the ticket until it settles.
    Follower(Ticket),
    /// The key recently gave an unstorable answer: fetch without coalescing.
    Pass,
    /// No flight is under way, but one for the key closed after the request's lookup began
    /// (`join`'s `looked`): what it stored may be in storage now, where the lookup did not
    /// see it. Look again rather than ask the origin a second time.
    LookAgain,
}

/// The flight key the shield's requests for `key` coalesce on (`RequestContext::flight_key`).
pub fn shield_flight(key: &str) -> String {
    format!("shield|{key}")
}

/// Bound on remembered hit-for-pass keys, so hostile URLs cannot grow the map without end.
const MAX_PASSES: usize = 10_000;

struct FlightState {
    waiters: usize,
    settled: Option<Settled>,
    /// The leader still holds the flight: requests for the key keep joining it.
    open: bool,
}

thread_local! {
    /// The open flight of each key.
    static OPEN: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    /// Flights by id, kept until every follower has read how they settled.
    static FLIGHTS: RefCell<HashMap<u64, FlightState>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
    static PASSES: RefCell<HashMap<String, i64>> = RefCell::new(HashMap::new());
    /// How many flights this isolate has closed (`mark`), and at which count each key's last
    /// one closed (bounded: `CLOSED_CLEARED_AT` stands for the keys forgotten).
    static CLOSES: Cell<u64> = const { Cell::new(0) };
    static CLOSED: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    static CLOSED_CLEARED_AT: Cell<u64> = const { Cell::new(0) };
}

/// Bound on the keys whose last flight's close is remembered.
const MAX_CLOSED: usize = 4_096;

/// Where this isolate's flights stand: a request takes the mark before it looks up, and
/// `join` compares it with the key's last close.
pub fn mark() -> u64 {
    CLOSES.with(Cell::get)
}

/// Whether the flight of `key` closed after `mark` was taken (conservatively yes for a key
/// forgotten since).
fn closed_since(key: &str, mark: u64) -> bool {
    match CLOSED.with(|c| c.borrow().get(key).copied()) {
        Some(closed) => closed > mark,
        None => CLOSED_CLEARED_AT.with(Cell::get) > mark,
    }
}

fn note_closed(key: &str) {
    let count = CLOSES.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    CLOSED.with(|c| {
        let mut closed = c.borrow_mut();
        if closed.len() >= MAX_CLOSED && !closed.contains_key(key) {
            closed.clear();
            CLOSED_CLEARED_AT.with(|at| at.set(count));
        }
        closed.insert(key.to_string(), count);
    });
}

/// Joins the flight for `key`, leading it if none is under way. `looked`: the `mark` taken
/// before the request looked `key` up, if it may look again (`Flight::LookAgain`).
///
/// Followers poll (`Ticket::settled`) on their own timers rather than being woken by the
/// leader: on Workers, a request resumed from another request's context is cancelled as hung
/// once its own context has nothing left pending.
pub fn join(key: &str, now_ms: i64, looked: Option<u64>) -> Flight {
    let passing = PASSES.with(|p| {
        let mut passes = p.borrow_mut();
        match passes.get(key) {
            Some(&until) if until > now_ms => true,
            Some(_) => {
                passes.remove(key);
                false
            }
            None => false,
        }
    });
    if passing {
        return Flight::Pass;
    }
    if let Some(id) = OPEN.with(|o| o.borrow().get(key).copied()) {
        FLIGHTS.with(|f| {
            if let Some(flight) = f.borrow_mut().get_mut(&id) {
                flight.waiters += 1;
            }
        });
        return Flight::Follower(Ticket { id });
    }
    if looked.is_some_and(|mark| closed_since(key, mark)) {
        return Flight::LookAgain;
    }
    let id = NEXT_ID.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    OPEN.with(|o| o.borrow_mut().insert(key.to_string(), id));
    FLIGHTS.with(|f| {
        f.borrow_mut().insert(
            id,
            FlightState {
                waiters: 0,
                settled: None,
                open: true,
            },
        )
    });
    Flight::Leader(Leader {
        key: key.to_string(),
        id: Some(id),
    })
}

/// Remembers `key` as uncacheable until `until_ms`.
pub fn mark_pass(key: &str, until_ms: i64, now_ms: i64) {
    PASSES.with(|p| {
        let mut passes = p.borrow_mut();
        if passes.len() >= MAX_PASSES {
            passes.retain(|_, until| *until > now_ms);
            if passes.len() >= MAX_PASSES {
                passes.clear();
            }
        }
        passes.insert(key.to_string(), until_ms);
    });
}

/// Forgets a hit-for-pass mark, e.g. when the URL is invalidated or becomes storable: the
/// shield's mark for the key too, when this isolate also hosts it.
pub fn clear_pass(key: &str) {
    PASSES.with(|p| {
        let mut passes = p.borrow_mut();
        passes.remove(key);
        passes.remove(&shield_flight(key));
    });
}

/// The leader of a flight. Dropping it unsettled (an error path, a cancelled task) settles
/// it as failed, so followers never wait for nothing.
pub struct Leader {
    key: String,
    id: Option<u64>,
}

impl Leader {
    /// Settles the flight and closes it.
    pub fn settle(mut self, outcome: Settled) {
        self.publish(outcome);
        self.finish();
    }

    /// Tells the followers, and requests that join from now on, how the flight settled,
    /// while keeping it open until the leader is dropped: requests that arrive while the
    /// entry is still being written take it from here, instead of reading storage that does
    /// not hold it yet (and, for a stale entry, refreshing it a second time).
    pub fn publish(&self, outcome: Settled) {
        let Some(id) = self.id else { return };
        FLIGHTS.with(|f| {
            if let Some(flight) = f.borrow_mut().get_mut(&id) {
                flight.settled.get_or_insert(outcome);
            }
        });
    }

    fn finish(&mut self) {
        let Some(id) = self.id.take() else { return };
        OPEN.with(|o| {
            let mut open = o.borrow_mut();
            if open.get(&self.key) == Some(&id) {
                open.remove(&self.key);
            }
        });
        note_closed(&self.key);
        FLIGHTS.with(|f| {
            let mut flights = f.borrow_mut();
            match flights.get_mut(&id) {
                Some(flight) if flight.waiters > 0 => {
                    flight.open = false;
                    flight.settled.get_or_insert(Settled::Failed);
                }
                _ => {
                    flights.remove(&id);
                }
            }
        });
    }
}

/// Dropping a leader closes its flight; one that never published settles as failed, so
/// followers never wait for nothing.
impl Drop for Leader {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A follower's place in a flight. Dropping it (read, or given up on) releases the place.
pub struct Ticket {
    id: u64,
}

impl Ticket {
    /// How the flight settled, once it has.
    pub fn settled(&self) -> Option<Settled> {
        FLIGHTS.with(|f| {
            f.borrow()
                .get(&self.id)
                .and_then(|flight| flight.settled.clone())
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        FLIGHTS.with(|f| {
            let mut flights = f.borrow_mut();
            if let Some(flight) = flights.get_mut(&self.id) {
                flight.waiters -= 1;
                if flight.waiters == 0 && !flight.open {
                    flights.remove(&self.id);
                }
            }
        });
    }
}

/// Flights still held in memory (open, or settled with followers yet to read them).
/// Polls a coalesced follower's ticket on this request's own timer, giving up after
/// `timeout_ms` (then the follower does the work itself). On Workers a request resumed from
/// another request's context is cancelled as hung, so the leader cannot wake it.
pub async fn wait_for(ticket: &Ticket, timeout_ms: u64) -> Option<Settled> {
    let deadline = now_ms() + timeout_ms as i64;
    let mut interval = 2;
    loop {
        if let Some(settled) = ticket.settled() {
            return Some(settled);
        }
        if now_ms() >= deadline {
            return None;
        }
        Sleep::new(interval).await;
        interval = (interval * 2).min(25);
    }
}

#[cfg(test)]
fn flights_held() -> usize {
    FLIGHTS.with(|f| f.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_flight_answers_late_joiners_until_the_leader_is_done() {
        let Flight::Leader(leader) = join("k-pub", 0, None) else {
            panic!("first joins as leader")
        };
        leader.publish(Settled::Pass);
        let Flight::Follower(late) = join("k-pub", 0, None) else {
            panic!("a request during the write follows the open flight")
        };
        assert!(
            matches!(late.settled(), Some(Settled::Pass)),
            "and is answered at once"
        );
        drop(late);
        assert_eq!(flights_held(), 1, "still open: the leader holds it");
        drop(leader);
        assert_eq!(flights_held(), 0);
        assert!(
            matches!(join("k-pub", 0, None), Flight::Leader(_)),
            "closed: the next request leads"
        );
    }

    #[test]
    fn the_first_request_leads_and_the_others_follow() {
        let Flight::Leader(leader) = join("k1", 0, None) else {
            panic!("first joins as leader")
        };
        let Flight::Follower(first) = join("k1", 0, None) else {
            panic!("second follows")
        };
        let Flight::Follower(second) = join("k1", 0, None) else {
            panic!("third follows")
        };
        assert!(first.settled().is_none(), "nothing yet");
        leader.settle(Settled::Pass);
        assert!(matches!(first.settled(), Some(Settled::Pass)));
        assert!(matches!(second.settled(), Some(Settled::Pass)));
        let Flight::Leader(next) = join("k1", 0, None) else {
            panic!("a settled flight is over")
        };
        drop((first, second, next));
    }

    #[test]
    fn a_dropped_leader_settles_as_failed() {
        let Flight::Leader(leader) = join("k2", 0, None) else {
            panic!()
        };
        let Flight::Follower(follower) = join("k2", 0, None) else {
            panic!()
        };
        drop(leader);
        assert!(matches!(follower.settled(), Some(Settled::Failed)));
    }

    #[test]
    fn settled_flights_are_freed_once_every_follower_has_gone() {
        let held = flights_held();
        let Flight::Leader(leader) = join("k5", 0, None) else {
            panic!()
        };
        let Flight::Follower(a) = join("k5", 0, None) else {
            panic!()
        };
        let Flight::Follower(b) = join("k5", 0, None) else {
            panic!()
        };
        leader.settle(Settled::Pass);
        drop(a);
        assert_eq!(flights_held(), held + 1);
        drop(b);
        assert_eq!(flights_held(), held);
        let Flight::Leader(alone) = join("k6", 0, None) else {
            panic!()
        };
        alone.settle(Settled::Pass);
        assert_eq!(
            flights_held(),
            held,
            "a flight nobody followed is freed at once"
        );
    }

    #[test]
    fn a_request_that_looked_up_before_a_flight_closed_looks_again_instead_of_leading() {
        let before = mark();
        let Flight::Leader(leader) = join("k7", 0, Some(before)) else {
            panic!("first joins as leader")
        };
        let during = mark();
        leader.settle(Settled::Pass);
        assert!(
            matches!(join("k7", 0, Some(during)), Flight::LookAgain),
            "its lookup may have missed what the flight stored"
        );
        let after = mark();
        let Flight::Leader(next) = join("k7", 0, Some(after)) else {
            panic!("a lookup after the close saw what it stored: lead")
        };
        drop(next);
        assert!(
            matches!(join("k7", 0, None), Flight::Leader(_)),
            "a request that already looked again leads"
        );
    }

    #[test]
    fn hit_for_pass_lasts_until_its_deadline() {
        mark_pass("k3", 1_000, 0);
        assert!(matches!(join("k3", 999, None), Flight::Pass));
        assert!(matches!(join("k3", 1_000, None), Flight::Leader(_)));
        mark_pass("k4", 1_000, 0);
        clear_pass("k4");
        assert!(matches!(join("k4", 0, None), Flight::Leader(_)));
    }
}
