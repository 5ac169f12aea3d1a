//! Typo tolerance: the closest indexed term to a word that matched
//! nothing, by edit distance (insertions, deletions, substitutions and
//! swaps of neighbours), the more common term winning a tie.

/// The edit distance between `a` and `b` (optimal string alignment: a
/// swap of two neighbouring characters counts as one edit).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Three rows: two back (for swaps), the previous, the current.
    let mut before: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current: Vec<usize> = vec![0; width];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Edits allowed for a word of `chars` characters: none for the shortest
/// (too many words lie one edit away), one up to five, two beyond.
fn allowed_edits(chars: usize) -> usize {
    match chars {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// The indexed term to search instead of `word`: among `candidates`
/// (term, documents holding it), the nearest within the allowed edits,
/// then the one in most documents, then the first in order. `None` when
/// nothing is near enough.
pub fn correction<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = (&'a str, i64)>,
) -> Option<String> {
    let length = word.chars().count();
    let allowed = allowed_edits(length);
    if allowed == 0 {
        return None;
    }
    let mut best: Option<(usize, i64, &str)> = None;
    for (term, docs) in candidates {
        if term == word || term.chars().count().abs_diff(length) > allowed {
            continue;
        }
        let distance = edit_distance(word, term);
        if distance > allowed {
            continue;
        }
        let better = match best {
            None => true,
            Some((d, n, _)) => distance < d || (distance == d && docs > n),
        };
        if better {
            best = Some((distance, docs, term));
        }
    }
    best.map(|(_, _, term)| term.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_each_kind_of_edit_once() {
        assert_eq!(edit_distance("headphones", "headphones"), 0);
        assert_eq!(edit_distance("headphnes", "headphones"), 1, "a deletion");
        assert_eq!(edit_distance("haedphones", "headphones"), 1, "a swap");
        assert_eq!(edit_distance("headphonez", "headphones"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("café", "cafe"), 1, "characters, not bytes");
    }

    #[test]
    fn the_nearest_then_most_common_term_corrects_a_word() {
        let vocabulary = [
            ("headphones", 40),
            ("headset", 9),
            ("heaphones", 1),
            ("speakers", 30),
        ];
        assert_eq!(
            correction("headphnes", vocabulary).as_deref(),
            Some("headphones")
        );
        // Two terms one edit away: the more common wins.
        let tied = [("lamp", 2), ("lame", 7)];
        assert_eq!(correction("lamx", tied).as_deref(), Some("lame"));
        assert_eq!(correction("zzzzzzzz", vocabulary), None);
        assert_eq!(correction("hd", [("he", 5)]), None, "too short to guess");
        assert_eq!(
            correction("speakrs", vocabulary).as_deref(),
            Some("speakers")
        );
    }
}
