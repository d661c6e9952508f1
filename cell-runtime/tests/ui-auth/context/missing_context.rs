use cell_runtime::prelude::*;

#[Auth::require(role = "admin")]
async fn delete_user(id: u32) -> Result<u32, AuthError> {
    Ok(id)
}

fn main() {}
