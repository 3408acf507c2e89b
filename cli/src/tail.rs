//! `zlc tail`: follow one realm and print each event as one JSON line.
//!
//! Each batch is written and flushed to stdout *before* it is acknowledged, so a crash
//! can repeat events but never lose them. SIGINT/SIGTERM stop the loop after the
//! current batch; its checkpoint is saved by the acknowledgement, and the exit is 0.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio_util::sync::CancellationToken;
use zlc_runtime::client::{Client, RegisterRequest};
use zlc_runtime::config::{ConfigOverrides, ZulipConfig};
use zlc_runtime::source::{QueueOptions, QueueSource, Source};
use zlc_runtime::store::Store;

/// Options of `zlc tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// zuliprc file with `[api]` email, key and site (default: $ZULIP_CONFIG, then ~/.zuliprc).
    #[arg(long, value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// Zulip site, e.g. chat.example.com (default: $ZULIP_SITE, then the zuliprc).
    #[arg(long, value_name = "URL")]
    site: Option<String>,
    /// Bot email (default: $ZULIP_EMAIL, then the zuliprc). The API key is read only from
    /// $ZULIP_API_KEY or the zuliprc, never from a flag.
    #[arg(long, value_name = "EMAIL")]
    email: Option<String>,
    /// Skip TLS certificate verification and allow http:// to any host.
    #[arg(long)]
    insecure: bool,
    /// Extra CA certificates (PEM) to trust.
    #[arg(long, value_name = "PATH")]
    cert_bundle: Option<PathBuf>,
    /// Event types to follow, comma-separated or repeated (default: all).
    #[arg(long = "event-types", value_name = "TYPES", value_delimiter = ',')]
    event_types: Vec<String>,
    /// Narrow the message events, as OPERATOR:OPERAND (e.g. channel:devel, is:dm); repeatable.
    #[arg(long, value_name = "OP:OPERAND")]
    narrow: Vec<String>,
    /// Receive messages of every public channel, not only subscribed ones.
    #[arg(long)]
    all_public_streams: bool,
    /// Ask for message content as rendered HTML instead of Markdown.
    #[arg(long)]
    apply_markdown: bool,
    /// Database for the checkpoint (sqlite://FILE or postgres://...): a restart resumes.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Checkpoint name of this connection (default: EMAIL@SITE).
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    /// Stop after printing this many events.
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
    /// Follow the built-in fake Zulip server with generated demo traffic (no account needed).
    #[arg(long, conflicts_with_all = ["config_file", "site", "email"])]
    demo: bool,
}

pub async fn run(args: TailArgs) -> Result<()> {
    let cancel = CancellationToken::new();
    zlc_runtime::shutdown::cancel_on_signal(cancel.clone());
    let (config, _demo) = if args.demo {
        let demo = crate::demo::start(cancel.clone()).await?;
        (demo.config(), Some(demo))
    } else {
        let overrides = ConfigOverrides {
            config_file: args.config_file.clone(),
            site: args.site.clone(),
            email: args.email.clone(),
            api_key: None,
            insecure: args.insecure.then_some(true),
            cert_bundle: args.cert_bundle.clone(),
        };
        (overrides.resolve()?, None)
    };
    let store = match &args.store {
        Some(url) => Some(
            Store::open(url)
                .await
                .with_context(|| format!("opening the store {url}"))?,
        ),
        None => None,
    };
    let mut source = queue_source(&args, &config, store.clone())?;
    let mut printed = 0u64;
    let limit = args.max_events.unwrap_or(u64::MAX);
    let result = print_events(&mut source, &cancel, limit, &mut printed).await;
    let stats = source.stats();
    tracing::info!(
        printed,
        batches = stats.batches,
        heartbeats = stats.heartbeats,
        backfilled = stats.backfilled,
        queues_lost = stats.queues_lost,
        retries = stats.retries,
        rate_limited = stats.rate_limited,
        duplicates_dropped = stats.duplicates,
        malformed = stats.malformed,
        "stopped"
    );
    if let Some(store) = store {
        store.close().await;
    }
    match result {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// The event queue `args` ask for, with `config`'s credentials.
fn queue_source(args: &TailArgs, config: &ZulipConfig, store: Option<Store>) -> Result<Source> {
    let register = RegisterRequest {
        event_types: (!args.event_types.is_empty()).then(|| args.event_types.clone()),
        narrow: parse_narrow(&args.narrow)?,
        all_public_streams: args.all_public_streams,
        apply_markdown: args.apply_markdown,
        client_capabilities: Some(RegisterRequest::capabilities()),
        queue_lifespan_secs: None,
    };
    let connection = args
        .connection
        .clone()
        .unwrap_or_else(|| format!("{}@{}", config.email, config.site_url()));
    tracing::info!(site = config.site_url(), email = %config.email, from = %config.origin, "following");
    let client = Client::new(config)?;
    let options = QueueOptions {
        connection,
        register,
    };
    let queue = QueueSource::new(client, store, options);
    Ok(Source::Queue(Box::new(queue)))
}

/// Prints events as JSON lines until `limit` (counted in `printed`) or `cancel`.
async fn print_events(
    source: &mut Source,
    cancel: &CancellationToken,
    limit: u64,
    printed: &mut u64,
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    while *printed < limit {
        let Some(batch) = source.next_batch(cancel).await? else {
            break;
        };
        for json in batch.json() {
            if *printed >= limit {
                break;
            }
            writeln!(out, "{json}").context("writing to stdout")?;
            *printed += 1;
        }
        out.flush().context("writing to stdout")?;
        // Acknowledge only what reached stdout: a batch cut short by --max-events
        // stays unacknowledged and is delivered again next time.
        if *printed < limit || batch.len() as u64 == *printed {
            source.ack(batch.ack()).await?;
        }
    }
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn parse_narrow(terms: &[String]) -> Result<Vec<(String, String)>> {
    terms
        .iter()
        .map(|t| match t.split_once(':') {
            Some((op, operand)) if !op.is_empty() && !operand.is_empty() => {
                Ok((op.to_owned(), operand.to_owned()))
            }
            _ => bail!("--narrow {t:?} must be OPERATOR:OPERAND, e.g. channel:devel or is:dm"),
        })
        .collect()
}
