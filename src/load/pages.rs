//! Page-level hints for mapped tensor bytes: release pages after a copy (`MADV_DONTNEED`),
//! and bring pages in before use (`MADV_POPULATE_READ`, else one read per page).
//!
//! Only for bytes of a read-only private *file* mapping (`Model::is_mapped`): dropping such
//! pages loses nothing, the next access faults them back in from the file.

const PAGE: usize = 4096;

/// The whole pages inside `bytes` (start rounded up, end rounded down).
fn inner_pages(bytes: &[u8]) -> Option<(*mut libc::c_void, usize)> {
    let a = bytes.as_ptr() as usize;
    let start = a.div_ceil(PAGE) * PAGE;
    let end = (a + bytes.len()) / PAGE * PAGE;
    (end > start).then(|| (start as *mut libc::c_void, end - start))
}

/// The pages covering `bytes` (start rounded down, end rounded up).
fn outer_pages(bytes: &[u8]) -> Option<(*mut libc::c_void, usize)> {
    let a = bytes.as_ptr() as usize;
    let start = a / PAGE * PAGE;
    let end = (a + bytes.len()).div_ceil(PAGE) * PAGE;
    (end > start && !bytes.is_empty()).then(|| (start as *mut libc::c_void, end - start))
}

/// Drop the resident pages wholly inside `bytes` from this process (they stay in the page
/// cache). Best effort: errors are ignored.
///
/// # Safety
/// `bytes` must lie in a read-only private file mapping (never anonymous or heap memory,
/// whose contents `MADV_DONTNEED` would zero), and no one may rely on the pages staying
/// resident.
pub unsafe fn release(bytes: &[u8]) {
    if let Some((p, n)) = inner_pages(bytes) {
        // SAFETY: per the contract the range is part of a file mapping; DONTNEED on it only
        // drops the page table entries.
        unsafe { libc::madvise(p, n, libc::MADV_DONTNEED) };
    }
}

/// Ask the kernel to read `bytes` ahead (`MADV_WILLNEED`). Best effort.
pub fn will_need(bytes: &[u8]) {
    if let Some((p, n)) = outer_pages(bytes) {
        // SAFETY: WILLNEED only starts readahead; it never changes the memory's contents, and
        // the pages belong to the mapping that holds `bytes` (a mapping is page-granular).
        unsafe { libc::madvise(p, n, libc::MADV_WILLNEED) };
    }
}

/// `MADV_POPULATE_READ` (Linux 5.14); libc does not name it on every target.
const MADV_POPULATE_READ: libc::c_int = 22;

/// Fault the pages of `bytes` in now, so later reads do not stall (`MADV_POPULATE_READ`; on
/// older kernels one read per page).
pub fn populate(bytes: &[u8]) {
    if let Some((p, n)) = outer_pages(bytes) {
        // SAFETY: as in `will_need`: POPULATE_READ faults pages in read-only, changing nothing.
        let rc = unsafe { libc::madvise(p, n, MADV_POPULATE_READ) };
        if rc == 0 {
            return;
        }
    }
    let mut acc = 0u8;
    for chunk in bytes.chunks(PAGE) {
        acc ^= chunk[0];
    }
    std::hint::black_box(acc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ranges() {
        let v = vec![0u8; 5 * PAGE];
        let base = v.as_ptr() as usize;
        let off = (PAGE - base % PAGE) % PAGE; // first page boundary inside v
        let s = &v[off..off + 2 * PAGE + 10];
        assert_eq!(inner_pages(s).map(|(_, n)| n), Some(2 * PAGE));
        assert_eq!(outer_pages(s).map(|(_, n)| n), Some(3 * PAGE));
        assert_eq!(inner_pages(&v[off + 1..off + PAGE]), None);
        assert_eq!(outer_pages(&v[off..off]), None);
        populate(s);
        will_need(s);
    }
}
