//! Giving freed memory back to the system. glibc's allocator keeps what a process freed for
//! reuse, so a TUI that dropped a long transcript would keep its peak resident size;
//! `malloc_trim` hands the whole free pages back. Must not import anything of the crate.

/// Return the allocator's free pages to the system (glibc; elsewhere it does nothing).
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointer from us; it walks the allocator's own free
        // lists under the allocator's locks and may be called from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}
