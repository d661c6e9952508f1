use cell_runtime::prelude::*;

#[Security::pii]
#[derive(Debug)]
struct Email(String);

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[Telemetry::metrics(counter = "logins_total", labels = [email])]
async fn login(email: Email) -> Result<(), Error> {
    let _ = email;
    Ok(())
}

fn main() {}
