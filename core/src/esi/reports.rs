//! How much one assembled page says about its template: a log line for each broken directive
//! or failed include, and an `Edgecache-Fragments` member for each include over the budget,
//! would let a template full of them (markup reflected into it, or user content) write
//! thousands of log lines, and a field larger than clients accept, on every request assembled
//! from it (20,000 `<!--esi ` markers: 20,000 log lines; 20,000 includes over the budget: a
//! field of 600 KB). Each kind is written for the first few; the rest are counted in one line.

/// The most log lines of one kind, and `Edgecache-Fragments` members for includes over the
/// budget, one page writes.
pub const PAGE_REPORTS_MAX: usize = 16;

/// One page's reports of one kind.
#[derive(Debug, Default)]
pub struct Reports {
    written: usize,
    left_out: usize,
}

impl Reports {
    /// Whether this report is written (`false` once `PAGE_REPORTS_MAX` were: it is counted).
    pub fn take(&mut self) -> bool {
        if self.written < PAGE_REPORTS_MAX {
            self.written += 1;
            true
        } else {
            self.left_out += 1;
            false
        }
    }

    /// How many were counted instead of written.
    pub fn left_out(&self) -> usize {
        self.left_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reports_are_written_and_the_rest_counted() {
        let mut reports = Reports::default();
        let written = (0..20_000).filter(|_| reports.take()).count();
        assert_eq!(written, PAGE_REPORTS_MAX);
        assert_eq!(reports.left_out(), 20_000 - PAGE_REPORTS_MAX);
        assert_eq!(Reports::default().left_out(), 0);
    }
}
