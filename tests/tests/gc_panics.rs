use gc_api::Gc;

#[test]
fn measure_clone_speed() {
    let g = Gc::new(7u32);
    let t = std::time::Instant::now();
    let mut n = 0u32;
    while n < 100_000_000u32 {
        std::mem::forget(g.clone());
        std::mem::forget(g.clone());
        std::mem::forget(g.clone());
        std::mem::forget(g.clone());
        std::mem::forget(g.clone());
        std::mem::forget(g.clone());
        std::mem::forget(g.clone());
        std::mem::forget(g.clone());
        n += 8;
    }
    println!(
        "100M clones: {:?} count {}",
        t.elapsed(),
        Gc::strong_count(&g)
    );
}
