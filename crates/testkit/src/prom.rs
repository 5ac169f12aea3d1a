//! Reading Prometheus text in tests.

/// The sum of every series of `name` in Prometheus text (labels ignored),
/// or of those whose labels contain `filter`.
pub fn metric_sum(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let bare = series.split('{').next()?;
            (bare == name && series.contains(filter)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}
