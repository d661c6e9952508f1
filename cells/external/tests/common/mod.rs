//! What the integration tests share.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The memory plugin (an example of this crate), built once per test process. `cargo test`
/// alone would build it, but `cargo test --all-targets` builds examples as test harnesses
/// and leaves no runnable plugin behind, so the tests build it themselves.
pub fn memory_plugin() -> String {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "-q",
                "--example",
                "memory-plugin",
                "--features",
                "plugin",
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .status()
            .expect("cargo build runs");
        assert!(status.success(), "building the memory plugin failed");
        // tests' executables are in target/debug/deps; the example lands in target/debug/examples.
        let exe = std::env::current_exe().unwrap();
        exe.parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples/memory-plugin")
    })
    .display()
    .to_string()
}
