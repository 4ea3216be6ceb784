//! Price files over arbitrary text: loading never panics; a table it accepts has only finite,
//! non-negative prices, and every model in it resolves to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_trace_core::pricing::PriceTable;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(table) = PriceTable::from_json_str(text, "fuzz.json") else { return };
    for entry in table.iter() {
        let p = entry.price;
        for price in
            [Some(p.input), Some(p.output), p.cached_input, p.cache_write].into_iter().flatten()
        {
            assert!(price.is_finite() && price >= 0.0, "{}: {p:?}", entry.model);
        }
        let found = table.resolve(entry.model).expect("every model in the table resolves");
        assert_eq!(found.model, entry.model);
        assert_eq!(found.price, entry.price);
        // Lookups are case-insensitive for ASCII.
        let upper = entry.model.to_ascii_uppercase();
        assert_eq!(table.resolve(&upper).map(|m| m.model), Some(entry.model));
    }
});
