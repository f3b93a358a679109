//! The one way every long command shows progress: an indicatif bar on stderr, hidden when
//! stderr is not a terminal, with `--quiet`, or with `--json` (so scripts and logs get no
//! control characters). The bars differ only in their template.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps with `template` (indicatif syntax), or a hidden one when `hide` is set
/// or stderr is not a terminal.
pub fn bar(len: u64, template: &str, hide: bool) -> ProgressBar {
    if hide || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "),
    );
    b
}

/// A bar over bytes: `LABEL [=====>   ] 12 MiB/40 MiB (300 MiB/s, 1s)`, the label from
/// `set_message`.
pub fn bytes_bar(hide: bool) -> ProgressBar {
    bar(0, "{msg:>9} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})", hide)
}
