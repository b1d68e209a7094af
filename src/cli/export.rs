//! `sluice export TOPIC --output FILE`: writes a topic's committed records (a range of
//! them) to a JSON-lines file or a `.sluice` archive (`archive.rs`).
//!
//! It owns the command's arguments, the choice of format and the file's life: records
//! go to `FILE.partial`, which is synced and renamed to FILE only once complete, so a
//! killed export never leaves a FILE that looks finished. It must never write to the
//! broker, and never include a record a read_committed consumer would not see
//! (`range_reader.rs` decides which records are in).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::archive::{ArchiveHeader, ArchiveRecord, ArchiveWriter};
use super::cluster::Cluster;
use super::consume::json_line;
use super::output::Progress;
use super::range_reader::{From, RangeReader, To};
use super::records::Record;
use super::BootstrapArgs;

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    /// Topic to export.
    pub topic: String,
    /// File to write (replaced if it exists).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// jsonl (one JSON object per record, as `consume --format json` prints) or archive
    /// (compact, zstd-compressed) [default: from the extension, .jsonl or .sluice].
    #[arg(long, value_parser = ["jsonl", "archive"])]
    pub format: Option<String>,
    /// Export only this partition [default: all].
    #[arg(short, long)]
    pub partition: Option<i32>,
    /// Start at this offset (in every exported partition) [default: the log start].
    #[arg(long, value_name = "OFFSET", conflicts_with = "from_timestamp")]
    pub from_offset: Option<i64>,
    /// Start at the first record whose timestamp is at or after MS, and leave out
    /// records before MS.
    #[arg(long, value_name = "MS")]
    pub from_timestamp: Option<i64>,
    /// Stop before this offset [default: the last stable offset at the start].
    #[arg(long, value_name = "OFFSET", conflicts_with = "to_timestamp")]
    pub to_offset: Option<i64>,
    /// Leave out records whose timestamp is at or after MS (the range still runs to the
    /// last stable offset, as timestamps need not grow with offsets).
    #[arg(long, value_name = "MS")]
    pub to_timestamp: Option<i64>,
}

/// The format for `path`: the flag if given, else by extension.
pub fn format_for(path: &Path, flag: Option<&str>) -> Result<Format> {
    match flag {
        Some("jsonl") => return Ok(Format::Jsonl),
        Some("archive") => return Ok(Format::Archive),
        Some(f) => bail!("unknown format `{f}`"),
        None => {}
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => Ok(Format::Jsonl),
        Some("sluice") => Ok(Format::Archive),
        _ => bail!(
            "cannot tell the format of `{}` from its extension: name it .jsonl or .sluice, or pass --format",
            path.display()
        ),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Jsonl,
    Archive,
}

/// A record of `partition` as the archive keeps it.
pub fn to_archive(partition: i32, r: &Record) -> ArchiveRecord {
    ArchiveRecord {
        partition,
        offset: r.offset,
        timestamp_type: r.timestamp_type,
        timestamp: r.timestamp,
        key: r.key.clone(),
        value: r.value.clone(),
        headers: r.headers.clone(),
    }
}

enum Sink {
    Jsonl(BufWriter<File>),
    Archive(ArchiveWriter<BufWriter<File>>),
}

pub async fn run(args: ExportArgs) -> Result<()> {
    let format = format_for(&args.output, args.format.as_deref())?;
    let from = match (args.from_offset, args.from_timestamp) {
        (Some(o), _) => From::Offset(o),
        (_, Some(t)) => From::Timestamp(t),
        _ => From::Beginning,
    };
    let to = match (args.to_offset, args.to_timestamp) {
        (Some(o), _) => To::Offset(o),
        (_, Some(t)) => To::Timestamp(t),
        _ => To::End,
    };
    let mut cluster = Cluster::connect(&args.bootstrap.bootstrap).await?;
    let topic = cluster.topic(&args.topic).await?;
    let partition_count = topic.partitions.len() as i32;
    let only = args.partition.map(|p| vec![p]);
    let mut reader = RangeReader::new(&mut cluster, topic, only.as_deref(), from, to).await?;

    let mut partial = args.output.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file =
        File::create(&partial).with_context(|| format!("creating `{}`", partial.display()))?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let mut sink = match format {
        Format::Jsonl => Sink::Jsonl(out),
        Format::Archive => Sink::Archive(ArchiveWriter::new(
            out,
            &ArchiveHeader {
                topic: args.topic.clone(),
                partition_count,
            },
        )?),
    };
    let mut progress = Progress::new();
    let mut count = 0u64;
    let result: Result<()> = async {
        while !reader.done() {
            for (p, r) in reader.next(&mut cluster, None).await? {
                match &mut sink {
                    Sink::Jsonl(w) => {
                        w.write_all(json_line(&args.topic, p, &r).as_bytes())?;
                        w.write_all(b"\n")?;
                    }
                    Sink::Archive(w) => w.write(&to_archive(p, &r))?,
                }
                count += 1;
            }
            progress.update(|| format!("exported {count} records of {}", args.topic));
        }
        let file = match sink {
            Sink::Jsonl(w) => w.into_inner().map_err(|e| e.into_error())?,
            Sink::Archive(w) => w.finish()?.0.into_inner().map_err(|e| e.into_error())?,
        };
        file.sync_all()?;
        Ok(())
    }
    .await;
    progress.finish();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e.context(format!(
            "exporting {} to `{}`",
            args.topic,
            args.output.display()
        )));
    }
    std::fs::rename(&partial, &args.output)
        .with_context(|| format!("renaming `{}`", partial.display()))?;
    // The rename itself is durable once the directory is synced.
    let dir = match args.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).ok();
    eprintln!(
        "exported {count} records of {} to {}",
        args.topic,
        args.output.display()
    );
    Ok(())
}
