//! subcap-aggregator: placeholder until the delivery issue; it only says so.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("subcap-aggregator: not built yet (see issue 3); this binary does nothing");
    std::process::exit(2);
}
