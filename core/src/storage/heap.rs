//! What values cost in the isolate's memory: the bytes asked of the allocator for them, plus
//! what the allocator spends on each allocation. The memory tier counts its entries with
//! these, so its budget bounds what the isolate really holds, not only the bodies.

use std::mem::size_of;

/// What the allocator spends on one allocation beyond the bytes asked: its header and the
/// rounding to its alignment (dlmalloc in Wasm: 4 bytes and 8-byte alignment; a host
/// allocator: up to 16).
pub const ALLOCATION_OVERHEAD: usize = 16;

/// The cost of one allocation of `bytes` (none for zero: empty strings and vectors allocate
/// nothing).
pub fn allocation(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        bytes + ALLOCATION_OVERHEAD
    }
}

/// The heap bytes of a string: its capacity, which may exceed its length.
pub fn string(text: &String) -> usize {
    allocation(text.capacity())
}

/// The heap bytes of a vector of strings: its own buffer and every string's.
pub fn strings(list: &Vec<String>) -> usize {
    allocation(list.capacity() * size_of::<String>()) + list.iter().map(string).sum::<usize>()
}

/// The heap bytes of a vector of string pairs (header fields).
pub fn string_pairs(list: &Vec<(String, String)>) -> usize {
    allocation(list.capacity() * size_of::<(String, String)>())
        + list
            .iter()
            .map(|(a, b)| string(a) + string(b))
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_string_or_list_costs_nothing_on_the_heap() {
        assert_eq!(string(&String::new()), 0);
        assert_eq!(strings(&Vec::new()), 0);
        assert_eq!(string_pairs(&Vec::new()), 0);
    }

    #[test]
    fn strings_are_counted_at_their_capacity_with_the_allocators_share() {
        let mut text = String::with_capacity(100);
        text.push_str("short");
        assert_eq!(string(&text), 100 + ALLOCATION_OVERHEAD);
    }

    #[test]
    fn a_list_counts_its_buffer_and_each_of_its_strings() {
        let list = vec!["ab".to_string(), "cde".to_string()];
        let expected =
            allocation(list.capacity() * size_of::<String>()) + allocation(2) + allocation(3);
        assert_eq!(strings(&list), expected);
        let pairs = vec![("name".to_string(), "value".to_string())];
        assert_eq!(
            string_pairs(&pairs),
            allocation(size_of::<(String, String)>()) + allocation(4) + allocation(5)
        );
    }
}
