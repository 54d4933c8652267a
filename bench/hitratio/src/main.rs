//! `make hitratio` (`cargo run --release` here): prints the table and says whether the tier is
//! within one point of the best of the others at every point; exits 1 if it is not.
//! `--requests N` (default 500,000 a trace) and `--seed S` (default 1) change the traces.

use std::time::Instant;

use hitratio::policies::NAMES;
use hitratio::{budgets, replay_all, shortfall, trace};

fn main() {
    let mut requests = 500_000usize;
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .and_then(|v| v.replace('_', "").parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--requests", Some(n)) if n > 0 => requests = n as usize,
            ("--seed", Some(s)) => seed = s,
            _ => {
                eprintln!("usage: hitratio [--requests N] [--seed S]");
                std::process::exit(2);
            }
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    println!(
        "{requests} requests a trace, seed {seed}; object hit ratio / byte hit ratio; * best of the others"
    );
    let mut header = format!("{:<16} {:>9} {:>9}", "trace", "budget", "bytes");
    for name in NAMES {
        header += &format!(" {:>13}", name);
    }
    println!("{header}");
    let mut misses = Vec::new();
    for shape in trace::standard(requests, seed) {
        let trace = shape.generate();
        println!(
            "{:<16} {} objects, {:.1} GB distinct, median {} B, {:.1} % of requests to objects asked once",
            trace.name,
            trace.distinct_objects,
            trace.distinct_bytes as f64 / 1e9,
            trace.median_size,
            100.0 * trace.once_share
        );
        for (label, budget) in budgets(&trace) {
            let ratios = replay_all(&trace, budget, threads);
            let best_objects = ratios[1..].iter().map(|r| r.objects).fold(0.0, f64::max);
            let best_bytes = ratios[1..].iter().map(|r| r.bytes).fold(0.0, f64::max);
            let mut line = format!("{:<16} {:>9} {:>9}", "", label, human(budget));
            for (i, r) in ratios.iter().enumerate() {
                let mark = |v: f64, best: f64| if i > 0 && v == best { '*' } else { ' ' };
                line += &format!(
                    " {:.3}{}/{:.3}{}",
                    r.objects,
                    mark(r.objects, best_objects),
                    r.bytes,
                    mark(r.bytes, best_bytes)
                );
            }
            println!("{line}");
            let (objects, bytes) = shortfall(&ratios);
            if objects > 0.01 || bytes > 0.01 {
                misses.push(format!(
                    "{} at {label}: {objects:+.3} objects, {bytes:+.3} bytes behind",
                    trace.name
                ));
            }
        }
    }
    println!("{:.0} s", started.elapsed().as_secs_f64());
    if misses.is_empty() {
        println!("the tier is within 0.01 of the best of the others, in objects and bytes, at every point");
    } else {
        for miss in &misses {
            println!("MISSED: {miss}");
        }
        std::process::exit(1);
    }
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1}G", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0}M", bytes as f64 / (1u64 << 20) as f64)
    }
}
