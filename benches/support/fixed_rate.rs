//! Latency at a fixed offered load, as wrk2 and k6's constant-arrival-rate measure it:
//! requests are sent on a schedule whatever the server does, and each one's latency
//! runs from when the schedule said to send it. A server that falls behind is charged
//! for the queue it made (no coordinated omission), while this generator's own
//! lateness is not charged: a request sent late on a connection that was free at its
//! time is timed from when it left. wrk2 is not packaged for Debian, so this is a few
//! dozen lines over raw HTTP/1.1 on keep-alive connections.
//!
//! A run ends `GRACE` after its schedule does: what was due and not answered by then
//! is counted at what it had waited, a lower bound. Waiting for every answer let a
//! server far behind (the Node.js peer at four fifths of the floor's rate) stretch an
//! 8-second run to minutes, and made its answered rate look like the offered one.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a run waits for answers once its schedule has ended.
pub const GRACE: Duration = Duration::from_secs(2);

/// What one fixed-rate run measured.
pub struct FixedRate {
    /// Requests per second asked for, and what was answered per second until the run ended.
    pub offered: f64,
    pub answered: f64,
    /// Sorted latencies of every answer, and of every request unanswered when the run
    /// ended, timed to then.
    pub latencies: Vec<Duration>,
    /// Requests due that had no answer when the run ended: while there are any, every
    /// percentile is a lower bound.
    pub unanswered: u64,
    /// Answers that were not 200, and connections that broke.
    pub failures: u64,
    /// Each request's latency by when it was due, from the run's start.
    pub timeline: Vec<(Duration, Duration)>,
}

impl FixedRate {
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() { Duration::MAX } else { super::percentile(&self.latencies, p) }
    }

    /// The `p` percentile of the answers due within `when` of the run's start: a tail
    /// that comes from a stall at the start shows apart from one spread over the run.
    pub fn percentile_due(&self, when: std::ops::Range<Duration>, p: f64) -> Duration {
        let mut latencies: Vec<Duration> =
            self.timeline.iter().filter(|(due, _)| when.contains(due)).map(|(_, latency)| *latency).collect();
        latencies.sort();
        if latencies.is_empty() { Duration::MAX } else { super::percentile(&latencies, p) }
    }
}

/// Sends `POST /graphql` with `body` at `rate` per second for `seconds`, spread over
/// `connections` connections, each sending its share in turn.
pub async fn run(
    addr: &str,
    body: &str,
    headers: &[(&str, &str)],
    rate: f64,
    connections: usize,
    seconds: u64,
) -> FixedRate {
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|n| {
            let (addr, request) = (addr.to_string(), request.clone());
            // Each connection's schedule is offset, so the sends spread evenly.
            let first = start + interval.mul_f64(n as f64 / connections as f64);
            tokio::spawn(async move { connection(&addr, &request, first, interval, end, start).await })
        })
        .collect();
    let (mut timeline, mut failures, mut unanswered) = (Vec::new(), 0, 0);
    for task in tasks {
        let measured = task.await.expect("a connection's task");
        timeline.extend(measured.timeline);
        failures += measured.failures;
        unanswered += measured.unanswered;
    }
    let elapsed = (Instant::now() - start).max(Duration::from_secs(seconds));
    timeline.sort();
    let mut latencies: Vec<Duration> = timeline.iter().map(|(_, latency)| *latency).collect();
    latencies.sort();
    let answered = (latencies.len() as u64 - unanswered) as f64 / elapsed.as_secs_f64();
    FixedRate { offered: rate, answered, latencies, unanswered, failures, timeline }
}

/// What one connection measured.
struct Measured {
    timeline: Vec<(Duration, Duration)>,
    unanswered: u64,
    failures: u64,
}

async fn connection(
    addr: &str,
    request: &[u8],
    first: Instant,
    interval: Duration,
    end: Instant,
    start: Instant,
) -> Measured {
    let mut measured = Measured { timeline: Vec::new(), unanswered: 0, failures: 0 };
    let Ok(stream) = TcpStream::connect(addr).await else {
        measured.failures = 1;
        return measured;
    };
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    let deadline = end + GRACE;
    let (mut due, mut free_at) = (first, first);
    while due < end {
        tokio::time::sleep_until(due).await;
        let sent = Instant::now();
        if sent >= deadline {
            break;
        }
        // Free at its time: any lateness is this generator's. Busy: the server's queue.
        let from = if free_at <= due { sent } else { due };
        if stream.get_mut().write_all(request).await.is_err() {
            measured.failures += 1;
            return measured;
        }
        match tokio::time::timeout_at(deadline, read_answer(&mut stream)).await {
            Ok(Ok(status)) => {
                free_at = Instant::now();
                measured.timeline.push((due - start, free_at - from));
                measured.failures += u64::from(status != 200);
            }
            Ok(Err(_)) => {
                measured.failures += 1;
                return measured;
            }
            Err(_) => {
                measured.timeline.push((due - start, deadline - from));
                measured.unanswered += 1;
                due += interval;
                break;
            }
        }
        due += interval;
    }
    // What was due and never sent waited from its time to the run's end, at least.
    while due < end {
        measured.timeline.push((due - start, deadline.saturating_duration_since(due)));
        measured.unanswered += 1;
        due += interval;
    }
    measured
}

/// Reads one HTTP/1.1 answer, by its length or its chunks; answers its status.
async fn read_answer(stream: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            // The chunk and its CRLF; the last chunk, size 0, is followed by one CRLF.
            skip(stream, size + 2).await?;
            if size == 0 {
                return Ok(status);
            }
        }
    }
    skip(stream, length.unwrap_or(0)).await?;
    Ok(status)
}

async fn skip(stream: &mut BufReader<TcpStream>, mut bytes: usize) -> std::io::Result<()> {
    let mut buffer = [0u8; 8192];
    while bytes > 0 {
        let read = stream.read(&mut buffer[..bytes.min(8192)]).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes -= read;
    }
    Ok(())
}
