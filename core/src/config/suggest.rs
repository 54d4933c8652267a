//! "Did you mean …?": the known name nearest to a misspelt one, by edit distance.

/// Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`: the optimal
/// string alignment distance, ASCII case ignored.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The name of `known` nearest to `name`, when it is near enough to be what was meant: at
/// most a third of its length away (at least one edit, at most three).
pub fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (distance(name, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_edits_and_swaps() {
        for (a, b, expected) in [
            ("ttl", "ttl", 0),
            ("ttls", "ttl", 1),
            ("tl", "ttl", 1),
            ("defualt_ttl", "default_ttl", 1),
            ("TTL", "ttl", 0),
            ("bypass_cookie", "bypass_cookies", 1),
            ("abc", "xyz", 3),
            ("", "ttl", 3),
        ] {
            assert_eq!(distance(a, b), expected, "{a} / {b}");
        }
    }

    #[test]
    fn the_nearest_known_name_is_suggested_only_when_near() {
        let known = [
            "ttl",
            "browser_ttl",
            "default_ttl",
            "vary_cookies",
            "bypass_cookies",
        ];
        for (name, expected) in [
            ("ttls", Some("ttl")),
            ("defualt_ttl", Some("default_ttl")),
            ("vary_cookie", Some("vary_cookies")),
            ("bypass_cookie", Some("bypass_cookies")),
            ("browserttl", Some("browser_ttl")),
            ("timeout", None),
            ("x", None),
        ] {
            assert_eq!(nearest(name, &known), expected, "{name}");
        }
    }
}
