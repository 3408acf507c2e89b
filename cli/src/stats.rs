//! `zlc stats`: what a store says about its pipelines.

use anyhow::{Context as _, Result, bail};
use zlc_runtime::overview::Overview;
use zlc_runtime::store::{Store, redact_url, sqlite_file};

use crate::opt::StatsArgs;

/// Every pipeline in the store (or those named), as tables or JSON.
pub async fn run(a: StatsArgs) -> Result<()> {
    let url = a.store.as_str();
    // Reading statistics must not create an empty store where a URL was mistyped.
    if let Some(path) = sqlite_file(url)
        && !path.exists()
    {
        bail!(
            "there is no store at {} (a pipeline's binary creates it when it runs)",
            path.display()
        );
    }
    let store = Store::open(url)
        .await
        .with_context(|| format!("opening {}", redact_url(url)))?;
    let pipelines = if a.pipelines.is_empty() {
        store.pipelines().await?
    } else {
        a.pipelines
    };
    if pipelines.is_empty() {
        bail!(
            "{} holds no pipeline yet (a pipeline's binary writes there when it runs)",
            store.url()
        );
    }
    for (i, name) in pipelines.iter().enumerate() {
        let overview = Overview::load(&store, name, a.since).await?;
        if a.json {
            println!("{}", overview.json());
        } else {
            if i > 0 {
                println!();
            }
            print!("{}", overview.text());
        }
    }
    store.close().await;
    Ok(())
}
