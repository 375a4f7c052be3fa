#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::run(switchboard::api::Function::ImportUsers).await
}
