fn main() -> std::process::ExitCode {
    cargo_cell::main()
}
