// Two commands named `deploy` in one pipeline.
mod web {
    use zlc_runtime::{Context, command};

    #[command(description = "Deploy the web tier")]
    pub fn deploy(cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
        cx.reply("web");
        Ok(())
    }
}

mod db {
    use zlc_runtime::{Context, command};

    #[command(description = "Deploy the database")]
    pub fn deploy(cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
        cx.reply("db");
        Ok(())
    }
}

zlc_runtime::main!(web::deploy, db::deploy);
