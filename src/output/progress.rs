//! Progress bars on stderr (indicatif), one style rule for every command:
//! `{rate}` is a whole number of items per second with thousands separators
//! (`81,233/s`), where indicatif's `{per_sec}` shows four decimals.

use indicatif::{HumanCount, ProgressState, ProgressStyle};

/// The style for `template`, with `{rate}` available; `None` when the
/// template is invalid (then the bar keeps indicatif's default look).
pub fn style(template: &str) -> Option<ProgressStyle> {
    let style = ProgressStyle::with_template(template).ok()?;
    Some(style.with_key(
        "rate",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}/s", HumanCount(state.per_sec().round() as u64));
        },
    ))
}
