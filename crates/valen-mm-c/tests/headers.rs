//! The headers in `include/valen/` against the Rust exports: every prototype
//! and every `#define` constant must match `valen_mm_c::table`, whose entries
//! the compiler checks against the `#[no_mangle]` functions themselves.

use std::collections::BTreeMap;
use std::path::PathBuf;
use valen_mm_c::table::{CFunction, C_CONSTANTS, C_FUNCTIONS, HOSTED_FUNCTIONS};

const HEADERS: [&str; 5] = ["pmm.h", "paging.h", "vmm.h", "heap.h", "hosted.h"];

fn header(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../include/valen")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The text without comments, with `\` line continuations joined.
fn strip(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    out.push_str(rest);
    out.replace("\\\n", " ")
}

/// Function prototypes: every `;`-terminated declaration outside directives.
fn prototypes(text: &str) -> Vec<String> {
    let code: String = strip(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    code.split(';')
        .map(|d| d.replace("extern \"C\" {", "").replace('}', ""))
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|d| d.contains('('))
        .collect()
}

/// `#define NAME value` per build (`hosted`: with `VALEN_HOSTED` defined),
/// following `#ifdef VALEN_HOSTED` / `#else` / `#endif`.
fn defines(text: &str, hosted: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut active = vec![true];
    for line in strip(text).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["#ifdef", "VALEN_HOSTED"] => active.push(hosted),
            ["#ifndef", ..] | ["#ifdef", ..] | ["#if", ..] => active.push(true),
            ["#else"] => {
                let last = active.pop().unwrap_or(true);
                active.push(!last);
            }
            ["#endif", ..] => {
                active.pop();
            }
            ["#define", name, value @ ..]
                if active.iter().all(|&a| a) && !value.is_empty() && !name.contains('(') =>
            {
                out.insert(name.to_string(), value.join(" "));
            }
            _ => {}
        }
    }
    out
}

/// The value of a constant expression of the forms the headers use:
/// `123`, `0x1FULL`, `(-1)`, `(1ULL << 7)`, or another macro's name.
fn eval(expr: &str, env: &BTreeMap<String, String>) -> Option<i128> {
    let e = expr.trim();
    if let Some(inner) = e.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        return eval(inner, env);
    }
    if let Some((a, b)) = e.split_once("<<") {
        return Some(eval(a, env)? << eval(b, env)?);
    }
    if let Some(neg) = e.strip_prefix('-') {
        return Some(-eval(neg, env)?);
    }
    if let Some(v) = env.get(e) {
        return eval(v, env);
    }
    let digits = e.trim_end_matches(['U', 'L', 'u', 'l']);
    match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i128::from_str_radix(hex, 16).ok(),
        None => digits.parse().ok(),
    }
}

/// A C type as the Rust type the table writes.
fn rust_type(c: &str) -> String {
    let c = c.trim();
    let pointers = c.matches('*').count();
    let base = c.trim_end_matches(['*', ' ']).trim();
    let base = match base {
        "void" if pointers > 0 => "c_void",
        "void" => "()",
        "uint64_t" => "u64",
        "uint32_t" => "u32",
        "uintptr_t" | "size_t" => "usize",
        "int" => "i32",
        other => panic!("no Rust type for C type {other:?}"),
    };
    format!("{}{base}", "*mut ".repeat(pointers))
}

/// `uint64_t pmm_get_total_kb(void)` -> ("pmm_get_total_kb", "fn() -> u64").
fn signature(proto: &str) -> (String, String) {
    let (head, args) = proto.split_once('(').expect("a prototype has a (");
    let args = args.trim_end_matches(')');
    let name_at = head.rfind([' ', '*']).map_or(0, |i| i + 1);
    let (ret, name) = head.split_at(name_at);
    let params: Vec<String> = if args.trim() == "void" {
        Vec::new()
    } else {
        args.split(',')
            .map(|a| {
                let a = a.trim();
                let cut = a.rfind([' ', '*']).expect("a named parameter");
                rust_type(&a[..=cut])
            })
            .collect()
    };
    let ret = rust_type(ret);
    let ret = if ret == "()" {
        String::new()
    } else {
        format!(" -> {ret}")
    };
    (name.to_string(), format!("fn({}){ret}", params.join(", ")))
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn all_functions() -> Vec<CFunction> {
    C_FUNCTIONS
        .iter()
        .chain(HOSTED_FUNCTIONS)
        .copied()
        .collect()
}

#[test]
fn every_header_prototype_is_an_export_and_back() {
    let table = all_functions();
    for h in HEADERS {
        let protos = prototypes(&header(h));
        let mine: Vec<&CFunction> = table.iter().filter(|f| f.header == h).collect();
        for p in &protos {
            assert!(
                mine.iter().any(|f| f.prototype == p),
                "{h} declares `{p}`, which the Rust table does not export"
            );
        }
        for f in &mine {
            assert!(
                protos.iter().any(|p| p == f.prototype),
                "{h} lacks `{}`",
                f.prototype
            );
        }
        assert_eq!(
            protos.len(),
            mine.len(),
            "{h}: a prototype is declared twice"
        );
    }
}

#[test]
fn every_prototype_has_the_rust_type_of_its_export() {
    for f in all_functions() {
        let (name, ty) = signature(f.prototype);
        assert!(!name.is_empty(), "{}", f.prototype);
        assert_eq!(
            squash(&ty),
            squash(f.rust_type),
            "`{}` vs its Rust export",
            f.prototype
        );
    }
}

#[test]
fn the_spec_functions_keep_the_spec_signatures() {
    // Copied from the specification's code blocks.
    let spec = [
        "void pmm_init(uintptr_t start, uint64_t size)",
        "void *pmm_alloc_page(void)",
        "void *pmm_alloc_pages(uint64_t count)",
        "void pmm_free_page(void *addr)",
        "void pmm_mark_free(uintptr_t addr)",
        "void pmm_mark_used(uintptr_t addr)",
        "uint64_t pmm_get_total_kb(void)",
        "uint64_t pmm_get_used_kb(void)",
        "uint64_t pmm_get_free_kb(void)",
        "void paging_init(void)",
        "void paging_map(uint64_t virt, uint64_t phys, uint64_t flags)",
        "void paging_map_range(uint64_t virt, uint64_t phys, uint64_t size, uint64_t flags)",
        "void paging_map_page(uint64_t virt, uint64_t phys, uint64_t flags)",
        "void vmm_init(void)",
        "void vmm_map(uintptr_t virt, uintptr_t phys, uint64_t flags)",
        "void vmm_map_range(uintptr_t virt, uintptr_t phys, uint64_t size, uint64_t flags)",
        "void *vmm_alloc(uint64_t pages, uint64_t flags)",
        "uintptr_t vmm_get_phys(uintptr_t virtual_addr)",
        "void heap_init(void)",
        "void *malloc(uint64_t size)",
        "void free(void *ptr)",
    ];
    let marked: Vec<&str> = C_FUNCTIONS
        .iter()
        .filter(|f| f.spec)
        .map(|f| f.prototype)
        .collect();
    assert_eq!(marked, spec);
}

#[test]
fn every_constant_has_its_rust_value_in_both_builds() {
    for hosted in [true, false] {
        let mut env = BTreeMap::new();
        let mut seen = BTreeMap::new();
        for h in HEADERS {
            for (name, value) in defines(&header(h), hosted) {
                seen.insert(name.clone(), h);
                env.insert(name, value);
            }
        }
        for c in C_CONSTANTS {
            let want = if hosted { c.hosted } else { c.kernel };
            let got = env.get(c.name).and_then(|v| eval(v, &env));
            if let Some(want) = want {
                assert_eq!(got, Some(want), "{} (hosted: {hosted})", c.name);
                assert_eq!(
                    seen.get(c.name),
                    Some(&c.header),
                    "{} in the wrong header",
                    c.name
                );
            }
        }
        // Every value-like define of the headers is in the table.
        for (name, value) in &env {
            if name.ends_with("_H") || value.contains("void *") || name == "VIRT_TO_PHYS" {
                continue;
            }
            assert!(
                C_CONSTANTS.iter().any(|c| c.name == name),
                "{name} is defined in {} but not in the Rust table",
                seen[name]
            );
        }
    }
}

#[test]
fn the_spec_flag_values() {
    let env = defines(&header("paging.h"), false);
    for (name, bit) in [
        ("PAGE_PRESENT", 0),
        ("PAGE_WRITE", 1),
        ("PAGE_USER", 2),
        ("PAGE_PWT", 3),
        ("PAGE_PCD", 4),
        ("PAGE_HUGE", 7),
    ] {
        assert_eq!(eval(&env[name], &env), Some(1 << bit), "{name}");
    }
    assert_eq!(
        eval(&env["KERNEL_VIRT_OFFSET"], &env),
        Some(0xFFFF_FFFF_8000_0000)
    );
    let heap = defines(&header("heap.h"), false);
    assert_eq!(eval(&heap["HEAP_MAGIC"], &heap), Some(0x1234_5678));
}

#[test]
fn the_parser_sees_what_it_should() {
    let text = "/* c */\n#ifdef VALEN_HOSTED\n#define A 1\n#else\n#define A (1ULL << 4)\n#endif\nint f(uint64_t x, void **o);\n";
    assert_eq!(defines(text, true)["A"], "1");
    let env = defines(text, false);
    assert_eq!(eval(&env["A"], &env), Some(16));
    assert_eq!(prototypes(text), ["int f(uint64_t x, void **o)"]);
    assert_eq!(
        signature("int f(uint64_t x, void **o)").1,
        "fn(u64, *mut *mut c_void) -> i32"
    );
}
