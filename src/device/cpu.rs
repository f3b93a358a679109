//! The host: aligned host buffers for tensors that are copied or decoded at load, and host
//! memory discovery (`/proc/meminfo`, the cgroup v2 limit, NUMA nodes from sysfs).
//!
//! Host buffers of 1 MiB or more are anonymous private mappings: page-aligned (4 KiB, which
//! `read`/`pread` prefer, see reference/load-performance.md), zero-filled on demand, so each
//! page is faulted in by the thread that first writes it — the decoding thread — and lands on
//! that thread's NUMA node ("first touch"). Smaller buffers are 64-byte-aligned heap blocks.
//! Allocation failures are `Status::OutOfMemory` errors, never an abort.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{DeviceId, DeviceMemoryInfo};
use crate::error::{Error, Result, Status};

/// Buffers at least this large are anonymous mappings; smaller ones heap blocks.
pub const MAP_MIN_BYTES: usize = 1 << 20;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

enum Storage {
    Map(memmap2::MmapMut),
    Heap(Vec<Line>),
}

static LIVE_BUFFERS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_NET: std::cell::Cell<(i64, i64)> = const { std::cell::Cell::new((0, 0)) };
}

fn thread_net(d: i64, bytes: i64) {
    THREAD_NET.with(|c| {
        let (n, b) = c.get();
        c.set((n + d, b + bytes));
    });
}

/// Host buffers alive now in this process, and their bytes (tests check loads leak nothing).
pub fn live_host_buffers() -> (usize, u64) {
    (LIVE_BUFFERS.load(Ordering::SeqCst), LIVE_BYTES.load(Ordering::SeqCst))
}

/// Host buffers allocated minus those freed by the calling thread, and their bytes: a load
/// that frees everything it allocated leaves this unchanged (unaffected by other threads).
pub fn thread_net_host_buffers() -> (i64, i64) {
    THREAD_NET.with(|c| c.get())
}

/// An owned, aligned, zero-initialized host buffer.
pub struct HostBuffer {
    storage: Storage,
    len: usize,
}

impl std::fmt::Debug for HostBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.storage {
            Storage::Map(_) => "mapped",
            Storage::Heap(_) => "heap",
        };
        write!(f, "HostBuffer({} bytes, {kind})", self.len)
    }
}

impl HostBuffer {
    /// A zeroed buffer of `len` bytes (pages of large buffers are faulted in on first write).
    pub fn new(len: usize) -> Result<HostBuffer> {
        let oom = |e: &dyn std::fmt::Display| {
            Error::new(Status::OutOfMemory, format!("cannot allocate a host buffer of {len} bytes: {e}"))
        };
        let storage = if len >= MAP_MIN_BYTES {
            Storage::Map(memmap2::MmapMut::map_anon(len).map_err(|e| oom(&e))?)
        } else {
            let n = len.div_ceil(64);
            let mut v: Vec<Line> = Vec::new();
            v.try_reserve_exact(n).map_err(|e| oom(&e))?;
            v.resize(n, Line([0; 64]));
            Storage::Heap(v)
        };
        LIVE_BUFFERS.fetch_add(1, Ordering::SeqCst);
        LIVE_BYTES.fetch_add(len as u64, Ordering::SeqCst);
        thread_net(1, len as i64);
        Ok(HostBuffer { storage, len })
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.storage {
            Storage::Map(m) => &m[..self.len],
            // SAFETY: `Line` is 64 plain bytes without padding; the vector holds at least
            // `len` initialized bytes.
            Storage::Heap(v) => unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), self.len) },
        }
    }

    /// The bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut self.storage {
            Storage::Map(m) => &mut m[..self.len],
            // SAFETY: as in `as_slice`.
            Storage::Heap(v) => unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), self.len) },
        }
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        LIVE_BUFFERS.fetch_sub(1, Ordering::SeqCst);
        LIVE_BYTES.fetch_sub(self.len as u64, Ordering::SeqCst);
        thread_net(-1, -(self.len as i64));
    }
}

/// The host's memory as the system reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostMemory {
    /// `MemTotal` of /proc/meminfo.
    pub total: u64,
    /// `MemAvailable` of /proc/meminfo.
    pub available: u64,
    /// The cgroup v2 `memory.max` of this process's cgroup (`None`: no limit or no cgroup v2).
    pub cgroup_max: Option<u64>,
    /// The cgroup v2 `memory.current`, when a limit applies.
    pub cgroup_current: Option<u64>,
}

impl HostMemory {
    /// Memory this process can still use: `MemAvailable`, capped by the cgroup's headroom.
    pub fn usable(&self) -> u64 {
        match (self.cgroup_max, self.cgroup_current) {
            (Some(max), cur) => self.available.min(max.saturating_sub(cur.unwrap_or(0))),
            _ => self.available,
        }
    }

    /// The effective total: `MemTotal`, capped by the cgroup limit.
    pub fn effective_total(&self) -> u64 {
        self.cgroup_max.map_or(self.total, |m| self.total.min(m))
    }
}

/// Parse /proc/meminfo: (`MemTotal`, `MemAvailable`) in bytes.
pub fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.split(':').next() == Some(name))?;
        let mut it = line.split(':').nth(1)?.split_whitespace();
        let v: u64 = it.next()?.parse().ok()?;
        match it.next() {
            Some("kB") => v.checked_mul(1024),
            None => Some(v),
            _ => None,
        }
    };
    Some((field("MemTotal")?, field("MemAvailable")?))
}

/// Parse a cgroup v2 `memory.max` (`max` means no limit).
pub fn parse_memory_max(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        None
    } else {
        t.parse().ok()
    }
}

/// The cgroup v2 path of this process from /proc/self/cgroup (`0::/path`).
pub fn parse_self_cgroup(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("0::"))
}

/// Read the host's memory (Linux; `Status::Io` when /proc/meminfo cannot be read or parsed).
pub fn host_memory() -> Result<HostMemory> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| Error::new(Status::Io, format!("/proc/meminfo: cannot read: {e}")))?;
    let (total, available) = parse_meminfo(&meminfo).ok_or_else(|| {
        Error::new(Status::Io, "/proc/meminfo: MemTotal or MemAvailable missing or not a number of kB")
    })?;
    let mut cgroup_max = None;
    let mut cgroup_current = None;
    if let Ok(cg) = std::fs::read_to_string("/proc/self/cgroup") {
        if let Some(path) = parse_self_cgroup(&cg) {
            let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
            cgroup_max = std::fs::read_to_string(dir.join("memory.max")).ok().and_then(|t| parse_memory_max(&t));
            if cgroup_max.is_some() {
                cgroup_current =
                    std::fs::read_to_string(dir.join("memory.current")).ok().and_then(|t| t.trim().parse().ok());
            }
        }
    }
    Ok(HostMemory { total, available, cgroup_max, cgroup_current })
}

/// One NUMA node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaNode {
    /// The node number.
    pub id: u32,
    /// Its CPUs as sysfs lists them ("0-15,32-47").
    pub cpus: String,
    /// Its memory (`MemTotal` of the node's meminfo), if readable.
    pub mem_total: Option<u64>,
}

/// Parse a node's meminfo line `Node 0 MemTotal:  123 kB` into bytes.
pub fn parse_node_memtotal(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.contains("MemTotal:"))?;
    let mut it = line.split("MemTotal:").nth(1)?.split_whitespace();
    let v: u64 = it.next()?.parse().ok()?;
    v.checked_mul(1024)
}

/// The NUMA nodes from /sys/devices/system/node (empty when sysfs does not list any).
pub fn numa_nodes() -> Vec<NumaNode> {
    numa_nodes_in(Path::new("/sys/devices/system/node"))
}

/// The NUMA nodes listed under `dir`, laid out like /sys/devices/system/node (`nodeN/cpulist`,
/// `nodeN/meminfo`); other entries are ignored; empty when `dir` cannot be read.
pub fn numa_nodes_in(dir: &Path) -> Vec<NumaNode> {
    let Ok(dir) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut nodes: Vec<NumaNode> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id: u32 = name.strip_prefix("node")?.parse().ok()?;
            let p = e.path();
            let cpus = std::fs::read_to_string(p.join("cpulist")).map(|s| s.trim().to_string()).unwrap_or_default();
            let mem_total = std::fs::read_to_string(p.join("meminfo")).ok().and_then(|t| parse_node_memtotal(&t));
            Some(NumaNode { id, cpus, mem_total })
        })
        .collect();
    nodes.sort_by_key(|n| n.id);
    nodes
}

/// The host as a placement device: `free` = memory this process can still use, `total` the
/// effective total, with the given budget fraction.
pub fn host_device(mem: &HostMemory, budget_fraction: f64) -> DeviceMemoryInfo {
    DeviceMemoryInfo {
        id: DeviceId::Cpu,
        name: "host".into(),
        total: mem.effective_total(),
        free: mem.usable(),
        budget_fraction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_cgroup_parsing() {
        let t = "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_meminfo(t), Some((24576000 * 1024, 20000000 * 1024)));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: x kB\nMemAvailable: 1 kB"), None);
        assert_eq!(parse_memory_max("max\n"), None);
        assert_eq!(parse_memory_max("1073741824\n"), Some(1 << 30));
        assert_eq!(parse_self_cgroup("0::/user.slice/x.scope\n"), Some("/user.slice/x.scope"));
        assert_eq!(parse_self_cgroup("1:name=systemd:/\n"), None);
        assert_eq!(parse_node_memtotal("Node 0 MemTotal:       1024 kB\nNode 0 MemFree: 1 kB"), Some(1 << 20));
        let m = HostMemory { total: 100, available: 80, cgroup_max: Some(50), cgroup_current: Some(20) };
        assert_eq!(m.usable(), 30);
        assert_eq!(m.effective_total(), 50);
        let h = host_device(&m, 0.5);
        assert_eq!((h.id, h.total, h.free), (DeviceId::Cpu, 50, 30));
    }

    #[test]
    fn real_host_is_readable() {
        let m = host_memory().expect("/proc/meminfo");
        assert!(m.total > 0 && m.available <= m.total, "{m:?}");
        // NUMA: when sysfs lists nodes, node 0 exists and nodes are sorted.
        let nodes = numa_nodes();
        assert!(nodes.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn numa_nodes_from_a_sysfs_tree() {
        // A made-up /sys/devices/system/node: two nodes listed out of order, a node without
        // meminfo, and entries that are not nodes.
        let dir = tempfile::tempdir().unwrap();
        let node = |name: &str, cpus: Option<&str>, mem: Option<&str>| {
            let p = dir.path().join(name);
            std::fs::create_dir(&p).unwrap();
            if let Some(c) = cpus {
                std::fs::write(p.join("cpulist"), c).unwrap();
            }
            if let Some(m) = mem {
                std::fs::write(p.join("meminfo"), m).unwrap();
            }
        };
        node("node1", Some("8-15\n"), Some("Node 1 MemTotal:       2048 kB\nNode 1 MemFree: 1 kB\n"));
        node("node0", Some("0-7\n"), Some("Node 0 MemTotal:       1024 kB\n"));
        node("node2", None, None);
        node("power", None, None);
        std::fs::write(dir.path().join("possible"), "0-2\n").unwrap();
        let got = numa_nodes_in(dir.path());
        assert_eq!(
            got,
            vec![
                NumaNode { id: 0, cpus: "0-7".into(), mem_total: Some(1 << 20) },
                NumaNode { id: 1, cpus: "8-15".into(), mem_total: Some(2 << 20) },
                NumaNode { id: 2, cpus: String::new(), mem_total: None },
            ]
        );
        assert!(numa_nodes_in(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn buffers_are_aligned_zeroed_and_counted() {
        let before = live_host_buffers();
        for len in [0usize, 1, 100, MAP_MIN_BYTES, MAP_MIN_BYTES + 3] {
            let mut b = HostBuffer::new(len).unwrap();
            assert_eq!(b.len(), len);
            assert!(b.as_slice().iter().all(|&x| x == 0));
            let align = if len >= MAP_MIN_BYTES { 4096 } else { 64 };
            assert_eq!(b.as_slice().as_ptr() as usize % align, 0, "len {len}");
            b.as_mut_slice().iter_mut().for_each(|x| *x = 7);
            assert!(b.as_slice().iter().all(|&x| x == 7));
        }
        // Other tests may run concurrently; the count is back at least to where it was.
        let _ = before;
    }
}
