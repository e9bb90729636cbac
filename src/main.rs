//! The `codeforge` binary: parse the command line, run it, turn errors into one line and
//! an exit status.

use clap::Parser;

fn main() {
    let cli = codeforge::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(codeforge::commands::run(cli));
    // Do not wait for stalled connections or timers on the way out.
    runtime.shutdown_background();
    if let Err(e) = result {
        // An error can quote the server (an HTTP error body, a mid-stream message).
        eprintln!(
            "error: {}",
            codeforge::sanitize::for_terminal(&e.to_string())
        );
        std::process::exit(e.exit_code());
    }
}
