//! Status strings and the thread-local last error message.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::boundary::{boundary, with_last_error};
use crate::error::Status;

fn status_strings() -> &'static Vec<(u32, CString)> {
    static S: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
    S.get_or_init(|| {
        Status::ALL
            .iter()
            .map(|s| (*s as u32, CString::new(s.description()).expect("no NUL in descriptions")))
            .collect()
    })
}

/// A static, NUL-terminated description of a status code; "unknown status" for codes this
/// version does not know. Never NULL; never free it.
#[no_mangle]
pub extern "C" fn bg_status_str(code: u32) -> *const c_char {
    static UNKNOWN: &[u8] = b"unknown status\0";
    boundary("bg_status_str", || {
        status_strings().iter().find(|(c, _)| *c == code).map(|(_, s)| s.as_ptr()).unwrap_or(UNKNOWN.as_ptr().cast())
    })
}

/// Copy this thread's last error message (set by the last failing `bg_*` call on this thread;
/// successful calls leave it unchanged) into `buf` as a NUL-terminated string.
///
/// `*len_out` receives the message length in bytes, without the NUL. When `buf` is NULL or
/// `buf_len <= *len_out`, nothing is copied and `BG_STATUS_INSUFFICIENT_SIZE` is returned (so
/// call with NULL/0 to learn the size). An empty message means no error has happened yet on
/// this thread.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER` (`len_out` NULL) or
/// `BG_STATUS_INSUFFICIENT_SIZE`. This function never changes the last error message.
///
/// # Safety
/// `buf` NULL or writable for `buf_len` bytes; `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_last_error_message(buf: *mut c_char, buf_len: usize, len_out: *mut usize) -> Status {
    // This function never records an error of its own, so asking for the size first does not
    // replace the message being asked for.
    boundary("bg_last_error_message", || {
        if len_out.is_null() {
            return Status::NullParameter;
        }
        with_last_error(|msg| {
            // SAFETY: checked non-NULL; per the contract writable.
            unsafe { len_out.write(msg.len()) };
            if buf.is_null() || buf_len <= msg.len() {
                return Status::InsufficientSize;
            }
            // SAFETY: buf is writable for buf_len > msg.len() bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), msg.len());
                buf.add(msg.len()).write(0);
            }
            Status::Ok
        })
    })
}
