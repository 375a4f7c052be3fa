//! What one argon2id verify costs at the production parameters, in the release profile the
//! functions ship with: prints the median of 15 in milliseconds. `tests/benches/memory_size.rs`
//! runs it under each memory size's CPU share.

use std::time::Instant;

use switchboard::auth::PasswordHasher;
use switchboard::clock::OsRandom;
use switchboard::domain::Password;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hasher = PasswordHasher::owasp()?;
    let password = Password::parse_new("correct horse battery staple", "password")?;
    let stored = hasher.hash(&password, &OsRandom).await?;
    let mut times = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        hasher.verify(&password, Some(&stored), &OsRandom).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!("{:.2}", times[times.len() / 2]);
    Ok(())
}
