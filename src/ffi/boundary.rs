//! The one panic boundary every export goes through, and the thread-local last error.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, Result, Status};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Record `msg` as this thread's last error message.
pub(crate) fn set_last_error(msg: &str) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        e.clear();
        e.push_str(msg);
    });
}

/// Run `f` with this thread's last error message.
pub(crate) fn with_last_error<R>(f: impl FnOnce(&str) -> R) -> R {
    LAST_ERROR.with(|e| f(&e.borrow()))
}

/// What an export returns when its body panicked.
pub(crate) trait Fallback {
    fn fallback() -> Self;
}

impl Fallback for Status {
    fn fallback() -> Status {
        Status::Panic
    }
}
impl<T> Fallback for *const T {
    fn fallback() -> Self {
        std::ptr::null()
    }
}
impl<T> Fallback for *mut T {
    fn fallback() -> Self {
        std::ptr::null_mut()
    }
}
impl Fallback for usize {
    fn fallback() -> usize {
        0
    }
}
impl Fallback for u32 {
    fn fallback() -> u32 {
        0
    }
}
impl Fallback for () {
    fn fallback() {}
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Run an export's body, turning a panic into the return type's fallback value and a
/// last-error message.
pub(crate) fn boundary<R: Fallback>(name: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            set_last_error(&format!("{name}: internal error (panic): {}; please report this bug", panic_message(&*p)));
            R::fallback()
        }
    }
}

/// Run a fallible export's body: `Ok` becomes `BG_STATUS_OK`; an error becomes its status, and
/// its message becomes the last error (prefixed with the function's name).
pub(crate) fn run(name: &str, f: impl FnOnce() -> Result<()>) -> Status {
    boundary(name, || match f() {
        Ok(()) => Status::Ok,
        Err(e) => {
            set_last_error(&format!("{name}: {}", e.message()));
            e.status()
        }
    })
}

/// Error for a NULL pointer argument.
pub(crate) fn null(arg: &str) -> Error {
    Error::new(Status::NullParameter, format!("argument '{arg}' is NULL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_fallback_and_a_message() {
        let s: Status = run("bg_test", || panic!("boom {}", 42));
        assert_eq!(s, Status::Panic);
        with_last_error(|m| {
            assert!(m.contains("bg_test"), "{m}");
            assert!(m.contains("boom 42"), "{m}");
        });
        let p: *const u8 = boundary("bg_test_ptr", || panic!("x"));
        assert!(p.is_null());
        let n: usize = boundary("bg_test_n", || -> usize { panic!("y") });
        assert_eq!(n, 0);
    }

    #[test]
    fn errors_set_the_message_and_success_keeps_it() {
        let s = run("bg_test", || Err(Error::new(Status::NotFound, "no such thing")));
        assert_eq!(s, Status::NotFound);
        assert_eq!(run("bg_ok", || Ok(())), Status::Ok);
        with_last_error(|m| assert_eq!(m, "bg_test: no such thing"));
    }
}
