//! The `codeforge` binary: parse the command line, run it, turn errors into one line and
//! an exit status.

use clap::Parser;

fn main() {
    let cli = codeforge::cli::Cli::parse();
    // The TUI (input, core and drawing at once) and the simulator (a server) get two worker
    // threads; a one-shot command (`ask`, `route`, `stats`, ...) waits on one thing at a time
    // and runs on this thread: fewer threads, fewer malloc arenas, a smaller resident size.
    let threaded = matches!(
        cli.command,
        None | Some(codeforge::cli::Command::Simulate(_))
    );
    let built = if threaded {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match built {
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
