//! Release builds only: hands the linker the order of the functions the common commands run
//! (`assets/symbol-order.txt`, made by `scripts/symbol_order.sh`), so that they sit
//! together in the binary. The kernel maps code 64 KiB around every page a program touches;
//! spread over the whole binary, `codeforge ask` made nearly all of its 7 MB of code
//! resident (peak RSS 11.6–12.0 MiB; 9.6–10.2 with the order).
//!
//! The option is lld's (`--symbol-ordering-file`), and lld is what rustc links with on
//! x86_64 Linux since 1.90. Nothing is passed elsewhere, when a linker is configured, or with
//! `CODEFORGE_LINK_ORDER=0`. Names missing from the file only lose their place.

fn main() {
    const ORDER: &str = "assets/symbol-order.txt";
    println!("cargo:rerun-if-changed={ORDER}");
    println!("cargo:rerun-if-env-changed=CODEFORGE_LINK_ORDER");
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let release = env("PROFILE") == "release";
    let lld_by_default = env("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && env("CARGO_CFG_TARGET_OS") == "linux"
        && env("CARGO_CFG_TARGET_ENV") == "gnu";
    // A linker chosen by the user may not be lld.
    let flags = env("CARGO_ENCODED_RUSTFLAGS");
    let own_linker = std::env::var_os("RUSTC_LINKER").is_some()
        || ["linker", "fuse-ld", "link-self-contained"]
            .iter()
            .any(|f| flags.contains(f));
    let wanted = env("CODEFORGE_LINK_ORDER") != "0";
    let path = std::path::Path::new(&env("CARGO_MANIFEST_DIR")).join(ORDER);
    if release && lld_by_default && !own_linker && wanted && path.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            path.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
