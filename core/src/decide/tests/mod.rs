//! The decision table: every choice of the request flow, row by row, and a check that the
//! rows between them produce every outcome `Cache-Status` can report.

mod answer;
mod arrival;
mod fetch;
mod refresh;
mod store;
mod stored;

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::status::{Fwd, Outcome, Reason};

thread_local! {
    /// Every outcome and reason a row produced, for the coverage check.
    static SEEN: RefCell<(Vec<Outcome>, BTreeSet<&'static str>)> = RefCell::default();
}

fn seen(outcome: &Outcome) -> Outcome {
    SEEN.with(|s| s.borrow_mut().0.push(outcome.clone()));
    outcome.clone()
}

fn seen_reason(reason: Reason) -> Reason {
    SEEN.with(|s| s.borrow_mut().1.insert(reason.as_str()));
    reason
}

/// Runs every row above, then checks that between them they produced every reason and every
/// kind of forward `Cache-Status` can report, and a hit from every tier.
#[test]
fn the_rows_cover_every_outcome_cache_status_can_report() {
    arrival::before_a_lookup();
    stored::after_a_lookup_that_found_an_entry();
    stored::after_a_lookup_that_found_nothing();
    stored::a_range_request_and_the_parts_held();
    stored::a_collapsed_wait_and_an_unknown_purge_standing_say_so();
    answer::what_the_response_says_decides_what_is_stored();
    answer::a_304_an_origin_error_and_a_failed_origin();
    answer::a_merged_304_refreshes_the_entry_unless_something_forbids_it();
    answer::a_part_is_kept_only_when_it_is_what_was_asked();
    answer::an_answer_the_origin_gave_because_the_shield_failed_open_says_so_unless_another_reason_does();
    SEEN.with(|s| {
        let (outcomes, reasons) = &*s.borrow();
        let mut reasons = reasons.clone();
        let mut fwds = BTreeSet::new();
        let mut hit = false;
        for outcome in outcomes {
            match outcome {
                Outcome::Hit { stale, .. } => {
                    hit = true;
                    reasons.extend(stale.map(Reason::as_str));
                }
                Outcome::Forward { fwd, reason, .. } => {
                    fwds.insert(fwd.as_str());
                    reasons.extend(reason.map(Reason::as_str));
                }
            }
        }
        assert!(hit);
        let missing: Vec<&str> = Reason::ALL
            .iter()
            .map(|r| r.as_str())
            .filter(|r| !reasons.contains(r))
            .collect();
        assert!(missing.is_empty(), "no row reports {missing:?}");
        let missing: Vec<&str> = Fwd::ALL
            .iter()
            .map(|f| f.as_str())
            .filter(|f| !fwds.contains(f))
            .collect();
        assert!(missing.is_empty(), "no row forwards as {missing:?}");
    });
}
