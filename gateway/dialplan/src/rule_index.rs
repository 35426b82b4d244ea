//! An index of the routing rules by what a target must look like for each
//! rule to match, so that a decision over a city-scale dialplan (100 000
//! rules) looks at a handful of candidates instead of every rule.
//!
//! The semantics stay "the first rule in file order whose scopes and match
//! hold": the index only leaves out rules that cannot apply, and the
//! candidates are compared by their position in the file.
//! - `exact` rules are keyed by their string;
//! - `prefix` rules by their prefix, and `regex` rules by the literal text
//!   every match must start with (see [`regex_literal_prefix`]); a target
//!   looks up each of its own prefixes whose length some key has;
//! - an empty prefix, and a regex without a literal start, are candidates
//!   for every target.
//!
//! Under each key the rules are grouped by their `from_unit`, so a caller
//! looks only at the groups of its own unit and the units above it: a city
//! plan gives every ward its own rules for the same short codes, and a
//! caller must not walk the other wards' rules. A candidate carries its
//! scopes inline, so the rules themselves are read only for a regex the
//! index cannot run itself.
//!
//! Layout, for a decision that waits for few reads from memory (at city
//! scale the index does not stay in cache between calls, and each cache
//! line read is a trip to memory, often with a TLB miss):
//! - one open-addressing table of 32-byte slots, keyed by (key, unit): keys
//!   of up to 15 bytes (every E.164 number) are held in the slot itself, so
//!   a probe reads one line and follows no pointer; a list of one candidate
//!   (most of them) is held there too;
//! - a decision computes the slots of all its keys first and reads them
//!   together, then the slots of its units' groups, then the candidate
//!   lists: three waits for memory, not one per key, group and list;
//! - a list stops at its first candidate that applies whatever the target
//!   and trunk, since nothing after it can decide, and a key's unit groups
//!   keep only the rules before its unscoped such candidate;
//! - regexes of the plain shape dialplans use (literals, `\d`, counted
//!   repetition, groups) run as a small program here instead of in the
//!   regex engine, whose structures are many lines per regex.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::model::{Match, Rule, Unit};
use crate::window::LocalTime;

/// The index's hasher: SipHash costs more than the rest of a probe for
/// these short keys. The table is built from the dialplan, not from what
/// callers send, so a caller cannot choose keys that collide.
type Hasher = foldhash::fast::RandomState;
type FastMap<K, V> = HashMap<K, V, Hasher>;

/// The unit of a key's unscoped entry in the table.
const NONE: u32 = u32::MAX;
/// "No scope" in a candidate's trunk field (without `TIMED`), and the trunk
/// of a caller that did not come from one.
const NO_TRUNK: u32 = u32::MAX >> 1;
/// Set in a candidate's trunk field when the rule has time windows: the
/// slot has no room for another field, and trunk positions never reach
/// this bit.
const TIMED: u32 = 1 << 31;
/// The unit of a key's unscoped entry when the key also has unit groups.
const NONE_SCOPED: u32 = u32::MAX - 1;

/// `Cand::check`: the key proves the match (exact, prefix).
const NO_CHECK: u32 = u32::MAX;
/// `Cand::check`: the rule's regex must be run.
const RUN_REGEX: u32 = u32::MAX - 1;
/// `Cand::check` in a table slot: the list is the `trunk` candidates from
/// `rule` in `RuleIndex::cands`.
const LIST: u32 = u32::MAX - 2;
/// `Cand::check` in a table slot: no list (a key with only unit groups).
const NO_LIST: u32 = u32::MAX - 3;
/// Programs start below this position in `RuleIndex::ops`.
const MAX_PROGRAM_AT: usize = (u32::MAX - 4) as usize;

/// A rule as the index holds it: its position and what it is scoped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cand {
    rule: u32,
    /// Position of the `from_trunk` trunk (`NO_TRUNK`: unscoped), with
    /// `TIMED` when the rule holds only within its time windows.
    trunk: u32,
    /// How the match is still checked: `NO_CHECK`, `RUN_REGEX`, or the
    /// position in `RuleIndex::ops` of the program that checks it.
    check: u32,
}

impl Cand {
    /// Applies to every caller its list is offered to, whatever the target
    /// and the time: no later candidate of the list can decide.
    fn unconditional(&self) -> bool {
        self.trunk == NO_TRUNK && self.check == NO_CHECK
    }

    /// Whether the rule is scoped to a trunk other than the caller's.
    fn other_trunk(&self, caller: u32) -> bool {
        let t = self.trunk & !TIMED;
        t != NO_TRUNK && t != caller
    }

    fn timed(&self) -> bool {
        self.trunk & TIMED != 0
    }
}

/// Keys this long or shorter are held in the slot.
const SHORT_KEY_MAX: usize = 15;

/// Keys are 128-bit values: up to 15 bytes of the string, zero-padded, and
/// in the last byte its length and these flags.
const KEY_PREFIX: u8 = 0x80;
/// A longer key: the low 32 bits are its number in `RuleIndex::long`.
const KEY_LONG: u8 = 0x40;
/// The key of the rules that are candidates for every target.
const KEY_ALWAYS: u128 = 0x20 << 120;
/// An empty slot.
const KEY_EMPTY: u128 = 0x10 << 120;

fn short_key(prefix: bool, key: &[u8]) -> Option<u128> {
    if key.len() > SHORT_KEY_MAX {
        return None;
    }
    let mut b = [0u8; 16];
    b[..key.len()].copy_from_slice(key);
    b[SHORT_KEY_MAX] = key.len() as u8 | if prefix { KEY_PREFIX } else { 0 };
    Some(u128::from_le_bytes(b))
}

fn long_key(prefix: bool, n: u32) -> u128 {
    let flags = KEY_LONG | if prefix { KEY_PREFIX } else { 0 };
    u128::from(n) | (u128::from(flags) << 120)
}

/// One entry of the table: the candidates under one key for one unit (or
/// unscoped). A list of one candidate is the slot's own `cand`; a longer
/// one is a run of `RuleIndex::cands` (`cand.check == LIST`).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct Slot {
    key: u128,
    unit: u32,
    cand: Cand,
}

const EMPTY_SLOT: Slot = Slot {
    key: KEY_EMPTY,
    unit: NONE,
    cand: Cand {
        rule: 0,
        trunk: 0,
        check: NO_LIST,
    },
};

/// Open addressing with linear probing, at most half full: a probe nearly
/// always ends in the slot it starts at.
#[derive(Clone, Default)]
struct Table {
    slots: Box<[Slot]>,
    mask: usize,
    hasher: Hasher,
}

impl Table {
    fn with_entries(entries: &[Slot]) -> Table {
        let cap = (entries.len() * 2).next_power_of_two().max(16);
        let mut t = Table {
            slots: vec![EMPTY_SLOT; cap].into_boxed_slice(),
            mask: cap - 1,
            hasher: Hasher::default(),
        };
        for e in entries {
            // Unscoped entries are found by `NONE` whether or not the key
            // has unit groups.
            let unit = if e.unit == NONE_SCOPED { NONE } else { e.unit };
            let mut i = t.home(e.key, unit);
            while t.slots[i].key != KEY_EMPTY {
                i = (i + 1) & t.mask;
            }
            t.slots[i] = *e;
        }
        t
    }

    /// Where the probe for (`key`, `unit`) starts.
    fn home(&self, key: u128, unit: u32) -> usize {
        self.hasher.hash_one((key, unit)) as usize & self.mask
    }

    /// Reads the slot at `at`, to have its line on the way from memory.
    fn touch(&self, at: usize) -> u32 {
        self.slots.get(at).map_or(0, |s| s.unit)
    }

    /// The entry for (`key`, `unit`), probing from `at`.
    fn find(&self, key: u128, unit: u32, mut at: usize) -> Option<&Slot> {
        for _ in 0..self.slots.len() {
            let s = self.slots.get(at)?;
            if s.key == key && (s.unit == unit || (unit == NONE && s.unit == NONE_SCOPED)) {
                return Some(s);
            }
            if s.key == KEY_EMPTY {
                return None;
            }
            at = (at + 1) & self.mask;
        }
        None
    }
}

#[derive(Clone, Default)]
pub(crate) struct RuleIndex {
    table: Table,
    /// Keys longer than `SHORT_KEY_MAX`, numbered.
    long_exact: FastMap<Box<str>, u32>,
    long_prefix: FastMap<Box<str>, u32>,
    /// The distinct lengths (bytes) of the prefix keys, ascending, each
    /// with the first two bytes its keys start with.
    prefix_lens: Vec<(usize, StartFilter)>,
    /// Some rules are candidates for every target (`KEY_ALWAYS`).
    has_always: bool,
    /// The lists of more than one candidate.
    cands: Vec<Cand>,
    /// The programs of the regexes the index runs itself.
    ops: Vec<Op>,
    /// Per unit: its parent's position.
    unit_parent: Vec<Option<usize>>,
    /// The dialplan's unit and trunk positions by code and name, with the
    /// index's hasher: each decision resolves its caller's scope here.
    unit_pos: FastMap<Box<str>, usize>,
    trunk_pos: FastMap<Box<str>, usize>,
}

impl std::fmt::Debug for RuleIndex {
    // The lists can hold 100 000 entries: a summary says enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.table.slots.iter().filter(|s| s.key != KEY_EMPTY);
        f.debug_struct("RuleIndex")
            .field("entries", &used.count())
            .field("listed_candidates", &self.cands.len())
            .field(
                "prefix_lens",
                &self.prefix_lens.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Which first two bytes the prefix keys of one length start with: 8 KiB
/// that stay in cache, where a probe for a key that is not there would read
/// a table line (a cache miss) for nothing. Most lengths hold no key for a
/// given target: a dialled service number shares no start with the rooms'
/// short codes.
#[derive(Clone)]
struct StartFilter(Box<[u64; 1024]>);

impl StartFilter {
    fn new() -> StartFilter {
        StartFilter(Box::new([0; 1024]))
    }

    fn slot(key: &[u8]) -> usize {
        let a = key.first().copied().unwrap_or(0) as usize;
        let b = key.get(1).copied().unwrap_or(0) as usize;
        (a << 8) | b
    }

    fn insert(&mut self, key: &[u8]) {
        let n = Self::slot(key);
        self.0[n / 64] |= 1 << (n % 64);
    }

    fn may_hold(&self, key: &[u8]) -> bool {
        let n = Self::slot(key);
        self.0[n / 64] & (1 << (n % 64)) != 0
    }
}

/// The caller as the scope checks see it, resolved once per decision.
#[derive(Clone, Copy)]
pub(crate) struct Scope {
    /// The caller's unit and the units above it, nearest first.
    chain: [u32; MAX_CHAIN],
    chain_len: usize,
    /// The caller's unit lies deeper than `MAX_CHAIN`: its units are
    /// walked up the tree instead.
    deep: Option<usize>,
    trunk: u32,
    /// The local time of the call, for rules with time windows.
    when: LocalTime,
}

/// Units nest three deep in the city's structures; this leaves room.
const MAX_CHAIN: usize = 16;

/// Probes, and lists, read from memory together.
const BATCH: usize = 16;

/// The candidate lists one decision was offered, kept so that the trace
/// does not look them up again; `complete` is false when there were more
/// than the array holds (a caller deeper than the chain, a target with many
/// prefix keys), and the trace then walks the index again.
pub(crate) struct Offered<'s> {
    lists: [&'s [Cand]; MAX_OFFERED],
    n: usize,
    complete: bool,
}

const MAX_OFFERED: usize = 24;

/// The outcome of the index's part of a decision.
pub(crate) struct Decided<'s, 't> {
    /// The first rule in file order that applies, with the groups of its
    /// match when the index had to check it (a regex is not run twice).
    pub(crate) winner: Option<(usize, Option<Groups<'t>>)>,
    offered: Offered<'s>,
}

/// Hands lists to the decision in batches, having read the first line of
/// each list of a batch before the decision reads any of them.
struct Lists<'s, F: FnMut(&'s [Cand])> {
    f: F,
    buf: [&'s [Cand]; BATCH],
    n: usize,
    warm: u32,
}

impl<'s, F: FnMut(&'s [Cand])> Lists<'s, F> {
    fn push(&mut self, list: &'s [Cand]) {
        let Some(first) = list.first() else { return };
        self.warm ^= first.rule;
        if self.n == BATCH {
            self.flush();
        }
        self.buf[self.n] = list;
        self.n += 1;
    }

    fn flush(&mut self) {
        std::hint::black_box(self.warm);
        for list in &self.buf[..self.n] {
            (self.f)(list);
        }
        self.n = 0;
    }
}

impl RuleIndex {
    /// Builds the index of a validated rule list. `unit_index` maps unit
    /// codes to positions in `units`, `trunk_index` trunk names to positions
    /// in the trunk list; a scope naming neither (not in a validated
    /// dialplan) makes its rule never apply.
    pub(crate) fn build(
        rules: &[Rule],
        units: &[Unit],
        unit_index: &HashMap<String, usize>,
        trunk_index: &HashMap<String, usize>,
    ) -> RuleIndex {
        let mut ix = RuleIndex::default();
        // A trunk that does not exist: a position no call comes from.
        let unknown = NO_TRUNK - 1;
        // Few, large allocations: a parse of a city plan leaves no trail of
        // small freed blocks behind in the heap the gateway goes on using.
        let mut keys: FastMap<(bool, Cow<'_, str>), u32> = FastMap::default();
        // (key's group or `ALWAYS`, unit position or `NONE`, candidate).
        let mut entries: Vec<(u32, u32, Cand)> = Vec::with_capacity(rules.len());
        const ALWAYS: u32 = u32::MAX;
        for (i, rule) in rules.iter().enumerate() {
            // A dialplan is text held in memory: 4 G rules would be terabytes.
            let Ok(pos) = u32::try_from(i) else { break };
            let unit = match rule.from_unit.as_deref() {
                None => NONE,
                Some(u) => match unit_index.get(u) {
                    Some(&n) if n < NONE_SCOPED as usize => n as u32,
                    // No caller is in a unit that does not exist.
                    _ => continue,
                },
            };
            let trunk = rule.from_trunk.as_deref().map_or(NO_TRUNK, |t| {
                trunk_index
                    .get(t)
                    .map_or(unknown, |&n| trunk_pos(n).min(unknown))
            });
            let trunk = if rule.windows.is_empty() {
                trunk
            } else {
                trunk | TIMED
            };
            let mut cand = Cand {
                rule: pos,
                trunk,
                check: NO_CHECK,
            };
            let key = match &rule.matcher {
                Match::Exact(s) => Some((false, Cow::Borrowed(s.as_str()))),
                Match::Prefix(p) if p.is_empty() => None,
                Match::Prefix(p) => Some((true, Cow::Borrowed(p.as_str()))),
                Match::Regex(re) => {
                    cand.check = match compile_simple(rule.matcher.pattern()) {
                        Some(prog) if ix.ops.len() < MAX_PROGRAM_AT && simple_agrees(&prog, re) => {
                            let at = ix.ops.len() as u32;
                            ix.ops.extend_from_slice(&prog);
                            at
                        }
                        _ => RUN_REGEX,
                    };
                    match regex_literal_prefix(rule.matcher.pattern()) {
                        Some(p) if !p.is_empty() => Some((true, Cow::Owned(p))),
                        _ => None,
                    }
                }
            };
            let group = match key {
                None => ALWAYS,
                Some(k) => {
                    let n = keys.len() as u32;
                    *keys.entry(k).or_insert(n)
                }
            };
            entries.push((group, unit, cand));
        }
        // By key, then unit (unscoped last), then file order.
        entries.sort_unstable_by_key(|(g, u, c)| (*g, *u, c.rule));
        let mut by_group: Vec<(bool, Cow<'_, str>)> = Vec::new();
        by_group.resize(keys.len(), (false, Cow::Borrowed("")));
        for (k, g) in keys {
            by_group[g as usize] = k;
        }
        let mut slots: Vec<Slot> = Vec::with_capacity(by_group.len() + 1);
        let mut lens: Vec<(usize, StartFilter)> = Vec::new();
        for run in entries.chunk_by(|a, b| a.0 == b.0) {
            let key = match by_group.get(run[0].0 as usize) {
                None => {
                    ix.has_always = true;
                    KEY_ALWAYS
                }
                Some((prefix, key)) => {
                    let (prefix, k) = (*prefix, key.as_bytes());
                    if prefix {
                        match lens.iter_mut().find(|(l, _)| *l == k.len()) {
                            Some((_, f)) => f.insert(k),
                            None => {
                                let mut f = StartFilter::new();
                                f.insert(k);
                                lens.push((k.len(), f));
                            }
                        }
                    }
                    match short_key(prefix, k) {
                        Some(k) => k,
                        None => {
                            let long = if prefix {
                                &mut ix.long_prefix
                            } else {
                                &mut ix.long_exact
                            };
                            let n = long.len() as u32;
                            long.insert(key.as_ref().into(), n);
                            long_key(prefix, n)
                        }
                    }
                }
            };
            ix.lay_out(key, run, &mut slots);
        }
        ix.table = Table::with_entries(&slots);
        lens.sort_unstable_by_key(|(l, _)| *l);
        ix.prefix_lens = lens;
        ix.unit_parent = units
            .iter()
            .map(|u| u.parent.as_deref().and_then(|p| unit_index.get(p)).copied())
            .collect();
        let positions = |m: &HashMap<String, usize>| {
            m.iter()
                .map(|(k, &v)| (k.as_str().into(), v))
                .collect::<FastMap<Box<str>, usize>>()
        };
        ix.unit_pos = positions(unit_index);
        ix.trunk_pos = positions(trunk_index);
        ix.cands.shrink_to_fit();
        ix.ops.shrink_to_fit();
        ix
    }

    /// The table entries of one key, from its candidates sorted by unit
    /// (unscoped last) and file order.
    fn lay_out(&mut self, key: u128, entries: &[(u32, u32, Cand)], slots: &mut Vec<Slot>) {
        // A list ends at its first unconditional candidate. The unscoped
        // one also ends every unit group of the key: whoever reaches the
        // key has it, and a later rule never decides nor shows in a trace.
        let (scoped, plain) = match entries.iter().position(|e| e.1 == NONE) {
            Some(p) => entries.split_at(p),
            None => (entries, &entries[entries.len()..]),
        };
        let end = plain
            .iter()
            .position(|e| e.2.unconditional())
            .map_or(plain.len(), |p| p + 1);
        let plain: Vec<Cand> = plain[..end].iter().map(|e| e.2).collect();
        let bound = match plain.last() {
            Some(c) if c.unconditional() => c.rule,
            _ => u32::MAX,
        };
        let first = slots.len();
        slots.push(Slot {
            key,
            unit: NONE,
            cand: self.list_entry(&plain),
        });
        for run in scoped.chunk_by(|a, b| a.1 == b.1) {
            let mut list: Vec<Cand> = Vec::new();
            for &(_, _, c) in run.iter().take_while(|e| e.2.rule < bound) {
                list.push(c);
                if c.unconditional() {
                    break;
                }
            }
            if !list.is_empty() {
                slots[first].unit = NONE_SCOPED;
                slots.push(Slot {
                    key,
                    unit: run[0].1,
                    cand: self.list_entry(&list),
                });
            }
        }
    }

    /// A slot's `cand` for `list`.
    fn list_entry(&mut self, list: &[Cand]) -> Cand {
        match list {
            [] => Cand {
                rule: 0,
                trunk: 0,
                check: NO_LIST,
            },
            [c] => *c,
            _ => {
                let start = self.cands.len() as u32;
                self.cands.extend_from_slice(list);
                Cand {
                    rule: start,
                    trunk: list.len() as u32,
                    check: LIST,
                }
            }
        }
    }

    /// The position of the unit with this code.
    pub(crate) fn unit_position(&self, code: &str) -> Option<usize> {
        self.unit_pos.get(code).copied()
    }

    /// The position of the trunk with this name.
    pub(crate) fn trunk_position(&self, name: &str) -> Option<usize> {
        self.trunk_pos.get(name).copied()
    }

    /// Whether unit `code` is `ancestor` or lies below it (positions).
    pub(crate) fn unit_within(&self, mut code: usize, ancestor: usize) -> bool {
        // Parent cycles are rejected at parse time; the bound is belt and braces.
        for _ in 0..=self.unit_parent.len() {
            if code == ancestor {
                return true;
            }
            match self.unit_parent.get(code).copied().flatten() {
                Some(p) => code = p,
                None => return false,
            }
        }
        false
    }

    /// The scope of a caller of unit position `unit` arriving from trunk
    /// position `trunk`, at local time `when`.
    pub(crate) fn scope(
        &self,
        unit: Option<usize>,
        trunk: Option<usize>,
        when: LocalTime,
    ) -> Scope {
        let trunk = trunk.map_or(NO_TRUNK, trunk_pos);
        let mut s = Scope {
            chain: [NONE; MAX_CHAIN],
            chain_len: 0,
            deep: None,
            trunk,
            when,
        };
        let mut cur = unit;
        while let Some(u) = cur {
            if s.chain_len == MAX_CHAIN {
                s.deep = unit;
                break;
            }
            s.chain[s.chain_len] = u as u32;
            s.chain_len += 1;
            cur = self.unit_parent.get(u).copied().flatten();
        }
        s
    }

    /// The table key of `key`, if the index has it.
    fn key_of(&self, prefix: bool, key: &str) -> Option<u128> {
        match short_key(prefix, key.as_bytes()) {
            Some(k) => Some(k),
            None => {
                let long = if prefix {
                    &self.long_prefix
                } else {
                    &self.long_exact
                };
                long.get(key).map(|&n| long_key(prefix, n))
            }
        }
    }

    /// The list a slot holds.
    fn slot_list<'s>(&'s self, s: &'s Slot) -> &'s [Cand] {
        match s.cand.check {
            LIST => {
                let start = s.cand.rule as usize;
                self.cands
                    .get(start..start + s.cand.trunk as usize)
                    .unwrap_or(&[])
            }
            NO_LIST => &[],
            _ => std::slice::from_ref(&s.cand),
        }
    }

    /// Calls `f` with each candidate list for `target` and this caller:
    /// the rules that may apply, each list in file order.
    fn for_each_list<'s>(&'s self, target: &str, scope: &Scope, f: impl FnMut(&'s [Cand])) {
        let mut lists = Lists {
            f,
            buf: [&[]; BATCH],
            n: 0,
            warm: 0,
        };
        let mut keys = [KEY_ALWAYS; BATCH];
        let mut n = usize::from(self.has_always);
        if let Some(k) = self.key_of(false, target) {
            keys[n] = k;
            n += 1;
        }
        for (len, filter) in &self.prefix_lens {
            let len = *len;
            if len > target.len() {
                break;
            }
            // A key is whole characters, so a key equal to the target's
            // first `len` bytes ends on a character boundary of the target.
            if !target.is_char_boundary(len) || !filter.may_hold(&target.as_bytes()[..len]) {
                continue;
            }
            if let Some(k) = self.key_of(true, &target[..len]) {
                if n == BATCH {
                    self.probe_keys(&keys[..n], scope, &mut lists);
                    n = 0;
                }
                keys[n] = k;
                n += 1;
            }
        }
        self.probe_keys(&keys[..n], scope, &mut lists);
        lists.flush();
    }

    /// Finds the entries of `keys` and of their unit groups for this
    /// caller, and hands their lists to `lists`.
    fn probe_keys<'s, F: FnMut(&'s [Cand])>(
        &'s self,
        keys: &[u128],
        scope: &Scope,
        lists: &mut Lists<'s, F>,
    ) {
        let t = &self.table;
        let mut at = [0usize; BATCH];
        let mut warm = 0;
        for (i, &k) in keys.iter().enumerate() {
            at[i] = t.home(k, NONE);
            warm ^= t.touch(at[i]);
        }
        std::hint::black_box(warm);
        // (key, unit, where its probe starts) of the unit groups to read.
        let mut groups = [(0u128, 0u32, 0usize); BATCH];
        let mut n = 0;
        let mut warm = 0;
        for (i, &k) in keys.iter().enumerate() {
            let Some(s) = t.find(k, NONE, at[i]) else {
                continue;
            };
            lists.push(self.slot_list(s));
            if s.unit != NONE_SCOPED {
                continue;
            }
            if let Some(deep) = scope.deep {
                // Past the chain's length: walk up, a probe at a time.
                let mut cur = Some(deep);
                for _ in 0..=self.unit_parent.len() {
                    let Some(u) = cur else { break };
                    if let Some(s) = t.find(k, u as u32, t.home(k, u as u32)) {
                        lists.push(self.slot_list(s));
                    }
                    cur = self.unit_parent.get(u).copied().flatten();
                }
                continue;
            }
            for &u in &scope.chain[..scope.chain_len] {
                if n == BATCH {
                    self.probe_groups(&groups[..n], lists);
                    n = 0;
                }
                let home = t.home(k, u);
                warm ^= t.touch(home);
                groups[n] = (k, u, home);
                n += 1;
            }
        }
        std::hint::black_box(warm);
        self.probe_groups(&groups[..n], lists);
    }

    fn probe_groups<'s, F: FnMut(&'s [Cand])>(
        &'s self,
        groups: &[(u128, u32, usize)],
        lists: &mut Lists<'s, F>,
    ) {
        for &(k, u, home) in groups {
            if let Some(s) = self.table.find(k, u, home) {
                lists.push(self.slot_list(s));
            }
        }
    }

    /// Whether candidate `c` matches `target` (its scopes are checked by the
    /// caller), with the groups of the match when it had to be checked.
    fn check<'t>(&self, rules: &[Rule], c: &Cand, target: &'t str) -> Option<Option<Groups<'t>>> {
        match c.check {
            NO_CHECK => Some(None),
            // A regex's `\d` also matches other scripts' digits: only an
            // ASCII target is for the program.
            at if at != RUN_REGEX && target.is_ascii() => {
                run_simple(self.ops.get(at as usize..)?, target).map(Some)
            }
            _ => rules
                .get(c.rule as usize)?
                .matcher
                .captures(target)
                .map(Some),
        }
    }

    /// The first rule in file order whose scopes hold for the caller and
    /// whose match holds for `target`, and the lists it was chosen from.
    pub(crate) fn decide<'s, 't>(
        &'s self,
        rules: &[Rule],
        target: &'t str,
        scope: &Scope,
    ) -> Decided<'s, 't> {
        let mut best = u32::MAX;
        let mut best_groups = None;
        let mut offered = Offered {
            lists: [&[]; MAX_OFFERED],
            n: 0,
            complete: true,
        };
        self.for_each_list(target, scope, |list| {
            if offered.n < MAX_OFFERED {
                offered.lists[offered.n] = list;
                offered.n += 1;
            } else {
                offered.complete = false;
            }
            for c in list {
                if c.rule >= best {
                    break;
                }
                if c.other_trunk(scope.trunk) {
                    continue;
                }
                if let Some(groups) = self.check(rules, c, target) {
                    // Windows filter the candidates whose match holds: the
                    // rule itself is read only for those.
                    if c.timed()
                        && !rules
                            .get(c.rule as usize)
                            .is_some_and(|r| r.in_time(scope.when))
                    {
                        continue;
                    }
                    best = c.rule;
                    best_groups = groups;
                    break;
                }
            }
        });
        Decided {
            winner: (best != u32::MAX).then_some((best as usize, best_groups)),
            offered,
        }
    }

    /// The candidates below `before` that this caller's lists offered for
    /// `target` (whether or not they applied), ascending, and how many there
    /// were (the list holds at most `limit`). Rules scoped to units the
    /// caller is not in are not among them.
    pub(crate) fn candidates_before(
        &self,
        decided: &Decided<'_, '_>,
        target: &str,
        scope: &Scope,
        before: usize,
        limit: usize,
    ) -> (Vec<usize>, usize) {
        let mut all = Vec::new();
        let mut take = |list: &[Cand]| {
            for c in list {
                if c.rule as usize >= before {
                    break;
                }
                all.push(c.rule as usize);
            }
        };
        let offered = &decided.offered;
        if offered.complete {
            offered.lists[..offered.n].iter().for_each(|l| take(l));
        } else {
            self.for_each_list(target, scope, take);
        }
        // A rule has one key and one unit, so it is in one list only.
        all.sort_unstable();
        let n = all.len();
        all.truncate(limit);
        (all, n)
    }
}

/// The groups of a match: `[0]` the whole target.
pub(crate) type Groups<'t> = Vec<Option<&'t str>>;

/// A trunk's position as a candidate's trunk field holds it (below `TIMED`;
/// no dialplan has two thousand million trunks).
fn trunk_pos(n: usize) -> u32 {
    u32::try_from(n).map_or(NO_TRUNK - 1, |n| n.min(NO_TRUNK - 1))
}

/// The literal text every whole-target match of `pattern` starts with, or
/// `None` when the pattern may match in ways the simple reading below cannot
/// bound (an alternation anywhere). Conservative: it stops at the first
/// character that is not a plain ASCII letter or digit (groups, classes,
/// escapes, flags, `.` …), and drops the last literal when a quantifier
/// follows it (`70?` may match "7"). An empty result is a valid answer
/// ("no literal start").
pub(crate) fn regex_literal_prefix(pattern: &str) -> Option<String> {
    if pattern.contains('|') {
        return None;
    }
    let bytes = pattern.as_bytes();
    let mut end = 0;
    while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
        end += 1;
    }
    if end < bytes.len() && matches!(bytes[end], b'?' | b'*' | b'+' | b'{') {
        end = end.saturating_sub(1);
    }
    Some(pattern[..end].to_string())
}

/// One step of a regex the index runs itself. The patterns it takes are a
/// sequence of single characters (a literal or `\d`), each repeated a
/// counted number of times, with groups around parts of the sequence, and
/// at most one repetition whose count may vary. Anchored at both ends, such
/// a pattern matches a target in at most one way: the target's length fixes
/// the count of the varying repetition, and with it every group's bounds.
/// So there is no search and no choice between matches for the program to
/// make, and it gives the groups the regex engine gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// First op of a program: how many capture groups it has, the length
    /// of its shortest match, and how much longer a match may be
    /// (`UNBOUNDED`: without limit).
    Head {
        groups: u8,
        min_len: u16,
        stretch: u16,
    },
    /// Capture group `n` starts here.
    Open(u8),
    /// Capture group `n` ends here.
    Close(u8),
    /// The byte `byte`, `min..=max` times.
    Byte {
        byte: u8,
        min: u16,
        max: u16,
    },
    /// An ASCII digit, `min..=max` times.
    Digit {
        min: u16,
        max: u16,
    },
    End,
}

/// A repetition's `max` without bound (`*`, `+`, `{n,}`).
const UNBOUNDED: u16 = u16::MAX;
/// Capture groups a program may have.
const MAX_GROUPS: usize = 16;

/// The program for `pattern`, or `None` when it is not of the plain shape
/// [`Op`] describes: alternations, classes, `.`, anchors, flags, lazy
/// quantifiers, repeated groups, escapes other than `\d` and escaped
/// punctuation, more than one varying repetition… stay with the regex engine.
fn compile_simple(pattern: &str) -> Option<Vec<Op>> {
    let b = pattern.as_bytes();
    let mut ops = vec![Op::End];
    let mut open: Vec<Option<u8>> = Vec::new();
    let mut groups: u8 = 0;
    let mut min_len: u32 = 0;
    let mut stretch: Option<u16> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        // `Some(byte)`: that literal; `None`: `\d`.
        let atom = match c {
            b'(' => {
                let capturing = if b.get(i) == Some(&b'?') {
                    let rest = &b[i + 1..];
                    if rest.first() == Some(&b':') {
                        i += 2;
                        false
                    } else {
                        let name = if rest.starts_with(b"P<") {
                            i + 3
                        } else if rest.starts_with(b"<") {
                            i + 2
                        } else {
                            return None;
                        };
                        let len = b.get(name..)?.iter().position(|&x| x == b'>')?;
                        let ok = b[name..name + len]
                            .iter()
                            .all(|x| x.is_ascii_alphanumeric() || *x == b'_');
                        if len == 0 || !ok {
                            return None;
                        }
                        i = name + len + 1;
                        true
                    }
                } else {
                    true
                };
                if capturing {
                    groups += 1;
                    if groups as usize > MAX_GROUPS {
                        return None;
                    }
                    ops.push(Op::Open(groups));
                    open.push(Some(groups));
                } else {
                    open.push(None);
                }
                continue;
            }
            b')' => {
                if let Some(g) = open.pop()? {
                    ops.push(Op::Close(g));
                }
                if matches!(b.get(i), Some(b'?' | b'*' | b'+' | b'{')) {
                    return None;
                }
                continue;
            }
            b'\\' => {
                let e = *b.get(i)?;
                i += 1;
                match e {
                    b'd' => None,
                    // The escapes that mean the character itself
                    // (`\<` and `\>` are word boundaries, for one).
                    b'\\' | b'.' | b'+' | b'*' | b'?' | b'(' | b')' | b'|' | b'[' | b']' | b'{'
                    | b'}' | b'^' | b'$' | b'#' | b'&' | b'-' | b'~' => Some(e),
                    _ => return None,
                }
            }
            c if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'#' | b'@') => Some(c),
            _ => return None,
        };
        let (min, max, quantifier) = match b.get(i) {
            Some(b'?') => (0, 1, 1),
            Some(b'*') => (0, UNBOUNDED, 1),
            Some(b'+') => (1, UNBOUNDED, 1),
            Some(b'{') => {
                let close = i + b.get(i..)?.iter().position(|&x| x == b'}')?;
                let inner = std::str::from_utf8(&b[i + 1..close]).ok()?;
                let num = |s: &str| -> Option<u16> {
                    if s.is_empty() || !s.bytes().all(|d| d.is_ascii_digit()) {
                        return None;
                    }
                    s.parse::<u16>().ok().filter(|&n| n < UNBOUNDED)
                };
                let (min, max) = match inner.split_once(',') {
                    None => {
                        let n = num(inner)?;
                        (n, n)
                    }
                    Some((lo, "")) => (num(lo)?, UNBOUNDED),
                    Some((lo, hi)) => (num(lo)?, num(hi)?),
                };
                if min > max {
                    return None;
                }
                (min, max, close + 1 - i)
            }
            _ => (1, 1, 0),
        };
        i += quantifier;
        // Lazy (`??`, `+?`, `{2,4}?`) or stacked repetitions.
        if quantifier > 0 && matches!(b.get(i), Some(b'?' | b'*' | b'+' | b'{')) {
            return None;
        }
        if min != max {
            if stretch.is_some() {
                return None;
            }
            stretch = Some(if max == UNBOUNDED {
                UNBOUNDED
            } else {
                max - min
            });
        }
        min_len += u32::from(min);
        if min_len >= u32::from(UNBOUNDED) {
            return None;
        }
        ops.push(match atom {
            Some(byte) => Op::Byte { byte, min, max },
            None => Op::Digit { min, max },
        });
    }
    if !open.is_empty() {
        return None;
    }
    ops[0] = Op::Head {
        groups,
        min_len: min_len as u16,
        stretch: stretch.unwrap_or(0),
    };
    ops.push(Op::End);
    Some(ops)
}

/// Runs the program at the start of `ops` on an ASCII `target`.
fn run_simple<'t>(ops: &[Op], target: &'t str) -> Option<Groups<'t>> {
    let Some(&Op::Head {
        groups,
        min_len,
        stretch,
    }) = ops.first()
    else {
        return None;
    };
    let bytes = target.as_bytes();
    let extra = bytes.len().checked_sub(min_len as usize)?;
    if stretch != UNBOUNDED && extra > stretch as usize {
        return None;
    }
    let count = |min: u16, max: u16| min as usize + if min == max { 0 } else { extra };
    let mut bounds = [(0usize, 0usize); MAX_GROUPS + 1];
    let mut pos = 0;
    for op in &ops[1..] {
        match *op {
            Op::End => break,
            Op::Open(g) => bounds.get_mut(g as usize)?.0 = pos,
            Op::Close(g) => bounds.get_mut(g as usize)?.1 = pos,
            Op::Byte { byte, min, max } => {
                let n = count(min, max);
                if !bytes.get(pos..pos + n)?.iter().all(|&x| x == byte) {
                    return None;
                }
                pos += n;
            }
            Op::Digit { min, max } => {
                let n = count(min, max);
                if !bytes.get(pos..pos + n)?.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                pos += n;
            }
            Op::Head { .. } => return None,
        }
    }
    if pos != bytes.len() {
        return None;
    }
    let mut out = Vec::with_capacity(groups as usize + 1);
    out.push(Some(target));
    for &(start, end) in bounds.get(1..=groups as usize)? {
        out.push(Some(target.get(start..end)?));
    }
    Some(out)
}

/// A target that the program `prog` matches (`extra` longer than its
/// shortest match), or a near miss, for checking it against the regex.
fn simple_sample(prog: &[Op], extra: usize, digit: u8) -> String {
    let mut s = String::new();
    for op in prog {
        let (byte, min, max) = match *op {
            Op::Byte { byte, min, max } => (byte, min, max),
            Op::Digit { min, max } => (digit, min, max),
            _ => continue,
        };
        let n = min as usize + if min == max { 0 } else { extra };
        s.extend(std::iter::repeat_n(byte as char, n));
    }
    s
}

/// Whether the program gives what the compiled regex gives on a few
/// targets, and has its groups: a guard against a pattern read wrongly.
fn simple_agrees(prog: &[Op], re: &regex::Regex) -> bool {
    let Some(&Op::Head {
        groups, stretch, ..
    }) = prog.first()
    else {
        return false;
    };
    if re.captures_len() != groups as usize + 1 {
        return false;
    }
    let mut targets = Vec::new();
    for extra in [0, 1, 2] {
        if extra <= stretch as usize {
            for digit in [b'0', b'9'] {
                targets.push(simple_sample(prog, extra, digit));
            }
        }
    }
    let shortest = simple_sample(prog, 0, b'5');
    targets.push(format!("{shortest}0"));
    targets.push(format!("{shortest}a"));
    targets.push(format!("x{shortest}"));
    if !shortest.is_empty() {
        targets.push(shortest[..shortest.len() - 1].to_string());
    }
    targets.iter().all(|t| {
        let want = re
            .captures(t)
            .map(|c| c.iter().map(|m| m.map(|m| m.as_str())).collect::<Groups>());
        run_simple(prog, t) == want
    })
}
#[cfg(test)]
mod tests;

#[cfg(test)]
mod deep_tests;
