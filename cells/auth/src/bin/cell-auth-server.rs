//! The dev token service on its own: `cell-auth-server [LISTEN_ADDR] [DATA_DIR]`, configured
//! by `CELL_AUTH_ISSUER`, `CELL_AUTH_AUDIENCE` and `CELL_AUTH_ADMIN_SECRET`. `cargo cell`
//! runs the same service from its own binary (`cargo-cell cell auth serve`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let data = args.next().unwrap_or_else(|| "./cell-auth-data".into());
    let result = match listen.parse() {
        Ok(listen) => match cell_auth::server::ServerConfig::from_env(listen, data.into()) {
            Ok(config) => cell_auth::server::run(config).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(format!("{listen} is not a socket address: {e}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cell-auth-server: {e}");
            ExitCode::FAILURE
        }
    }
}
