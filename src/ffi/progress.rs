//! Progress reports of the progressive loader, for C: a function pointer plus user data.

use std::ffi::c_void;

use crate::load::{Phase, Progress};

/// Phase 1: token embeddings, output head, final norm.
pub const BG_PHASE_CRITICAL: u32 = 1;
/// Phase 2: layer batches, in layer order.
pub const BG_PHASE_LAYERS: u32 = 2;
/// Phase 3: everything else.
pub const BG_PHASE_REST: u32 = 3;

/// A progress report. `bytes_*` count the packed (file) bytes of the tensors.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct bg_progress {
    /// `BG_PHASE_CRITICAL`, `BG_PHASE_LAYERS` or `BG_PHASE_REST`.
    pub phase: u32,
    /// Tensors materialized so far.
    pub tensors_done: usize,
    /// Tensors in all.
    pub tensors_total: usize,
    /// Packed bytes of the tensors materialized so far.
    pub bytes_done: u64,
    /// Packed bytes of all tensors.
    pub bytes_total: u64,
}

/// A progress callback: called at the start of each phase and after each tensor, on the
/// thread that called `bg_load`, with reports whose counts never decrease (the last one has
/// `tensors_done == tensors_total`). Return `true` to go on, `false` to cancel: the load then
/// frees everything it allocated and returns `BG_STATUS_CANCELLED`. The report is valid only
/// during the call. The callback must not call `bg_load` re-entrantly with the same options.
pub type bg_progress_fn = Option<unsafe extern "C" fn(progress: *const bg_progress, user_data: *mut c_void) -> bool>;

impl From<&Progress> for bg_progress {
    fn from(p: &Progress) -> bg_progress {
        bg_progress {
            phase: match p.phase {
                Phase::Critical => BG_PHASE_CRITICAL,
                Phase::Layers => BG_PHASE_LAYERS,
                Phase::Rest => BG_PHASE_REST,
            },
            tensors_done: p.tensors_done,
            tensors_total: p.tensors_total,
            bytes_done: p.bytes_done,
            bytes_total: p.bytes_total,
        }
    }
}

/// A C callback with its user data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CProgress {
    pub f: unsafe extern "C" fn(progress: *const bg_progress, user_data: *mut c_void) -> bool,
    pub user_data: *mut c_void,
}

impl CProgress {
    /// Report `p`; `false` cancels.
    pub fn call(&self, p: &Progress) -> bool {
        let r = bg_progress::from(p);
        // SAFETY: the caller of bg_load_options_set_progress promised a callable function that
        // accepts this user data; the report lives across the call.
        unsafe { (self.f)(&r, self.user_data) }
    }
}
