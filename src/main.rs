fn main() -> std::process::ExitCode {
    todo::main()
}
