//! A synthetic chain generator writing Bitcoin Core's block-file format (`blk*.dat`, regtest by
//! default) for benchmarks and end-to-end tests: a realistic mix of script types (P2PKH,
//! P2WPKH, P2SH, P2WSH, P2TR, P2PK, bare multisig, OP_RETURN), fan-in (consolidations),
//! fan-out (batch payouts), CoinJoins with equal-value outputs, address reuse, coinbase
//! maturity, halvings, witness commitments, stale sibling blocks, blocks written out of height
//! order, zero padding and optional XOR obfuscation. Blocks meet the regtest proof of work;
//! signatures are random bytes (nothing here validates scripts).
//!
//! Deterministic for a given seed. With `keep_truth` the generator returns which entity owns
//! each address, the ground truth for clustering tests.

use std::{
    collections::HashMap,
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use bitcoin::{
    absolute::LockTime,
    block::{Header, Version},
    blockdata::constants::genesis_block,
    consensus::serialize,
    hashes::{sha256, Hash},
    opcodes::all as op,
    script::{Builder, PushBytesBuf},
    transaction::Version as TxVersion,
    Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode,
    TxOut, Witness,
};

use chaintrace_testkit::rng::Rng;

use crate::{blkfile::xor_in_place, script::script_address_string};

/// How [`generate`] shapes a synthetic chain of block files.
#[derive(Clone, Debug)]
pub struct SynthParams {
    /// Non-coinbase transactions to generate (at least).
    pub txs: u64,
    /// Target non-coinbase transactions per block.
    pub txs_per_block: u32,
    /// Distinct wallet owners.
    pub entities: u32,
    /// RNG seed: the same seed and parameters give the same chain.
    pub seed: u64,
    /// The network whose magic bytes and address encoding the files use.
    pub network: Network,
    /// Obfuscate the files as Core 28+ does (and write `xor.dat`).
    pub xor: Option<[u8; 8]>,
    /// Largest blk file (Core: 128 MiB).
    pub max_file_bytes: u64,
    /// Write a stale sibling block every N blocks (0: never).
    pub stale_every: u32,
    /// Swap a block with its child on disk every N blocks (0: never).
    pub swap_every: u32,
    /// Record each address's owner (memory grows with the chain: for small chains).
    pub keep_truth: bool,
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            txs: 1_000_000,
            txs_per_block: 1500,
            entities: 20_000,
            seed: 1,
            network: Network::Regtest,
            xor: None,
            max_file_bytes: 128 << 20,
            stale_every: 97,
            swap_every: 53,
            keep_truth: false,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default)]
pub struct SynthReport {
    /// Blocks of the best chain, genesis included.
    pub blocks: u64,
    /// Stale (off-chain) sibling blocks written.
    pub stale_blocks: u64,
    /// Non-coinbase transactions.
    pub txs: u64,
    /// CoinJoin-shaped transactions among `txs`.
    pub coinjoins: u64,
    /// `blk*.dat` files written.
    pub files: u32,
    /// Bytes of block data (without framing or padding).
    pub block_bytes: u64,
    /// Hash of the best chain's last block.
    pub tip: Option<BlockHash>,
    /// Address → owning entity (with `keep_truth`).
    pub owner: HashMap<String, u32>,
}

/// Output script kinds, weighted like a 2020s mainnet mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    P2pkh,
    P2wpkh,
    P2sh,
    P2wsh,
    P2tr,
    P2pk,
    Multisig,
}

#[derive(Clone, Copy, Debug)]
struct Utxo {
    outpoint: OutPoint,
    value: u64,
    kind: Kind,
}

struct Writer<'a> {
    dir: &'a Path,
    p: &'a SynthParams,
    file: Option<BufWriter<File>>,
    file_no: u32,
    pos: u64,
    report: SynthReport,
}

impl Writer<'_> {
    fn write_block(&mut self, block: &Block) -> std::io::Result<()> {
        let bytes = serialize(block);
        let need = 8 + bytes.len() as u64;
        if self.file.is_none() || self.pos + need > self.p.max_file_bytes {
            self.finish_file()?;
            let path = self.dir.join(format!("blk{:05}.dat", self.file_no));
            self.file = Some(BufWriter::with_capacity(1 << 20, File::create(path)?));
            self.file_no += 1;
            self.pos = 0;
            self.report.files += 1;
        }
        let mut rec = Vec::with_capacity(need as usize);
        rec.extend_from_slice(&self.p.network.magic().to_bytes());
        rec.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        rec.extend_from_slice(&bytes);
        if let Some(k) = &self.p.xor {
            xor_in_place(&mut rec, self.pos, k);
        }
        self.file.as_mut().expect("opened above").write_all(&rec)?;
        self.pos += need;
        self.report.block_bytes += bytes.len() as u64;
        Ok(())
    }

    /// Pad the file with zeros to the next MiB, as Core's preallocation leaves it.
    fn finish_file(&mut self) -> std::io::Result<()> {
        if let Some(mut f) = self.file.take() {
            let pad = (1u64 << 20) - self.pos % (1 << 20);
            let mut zeros = vec![0u8; pad as usize];
            if let Some(k) = &self.p.xor {
                xor_in_place(&mut zeros, self.pos, k);
            }
            f.write_all(&zeros)?;
            f.flush()?;
        }
        Ok(())
    }
}

fn push(bytes: &[u8]) -> PushBytesBuf {
    PushBytesBuf::try_from(bytes.to_vec()).expect("short push")
}

fn key_material(seed: u64, entity: u32, n: u32) -> [u8; 32] {
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(&seed.to_le_bytes());
    buf[8..12].copy_from_slice(&entity.to_le_bytes());
    buf[12..].copy_from_slice(&n.to_le_bytes());
    sha256::Hash::hash(&buf).to_byte_array()
}

fn script_for(kind: Kind, k: &[u8; 32]) -> ScriptBuf {
    let mut pk = [0u8; 33];
    pk[0] = 2 + (k[31] & 1);
    pk[1..].copy_from_slice(k);
    match kind {
        Kind::P2pkh => Builder::new()
            .push_opcode(op::OP_DUP)
            .push_opcode(op::OP_HASH160)
            .push_slice(push(&k[..20]))
            .push_opcode(op::OP_EQUALVERIFY)
            .push_opcode(op::OP_CHECKSIG)
            .into_script(),
        Kind::P2wpkh => Builder::new().push_int(0).push_slice(push(&k[..20])).into_script(),
        Kind::P2sh => Builder::new()
            .push_opcode(op::OP_HASH160)
            .push_slice(push(&k[12..]))
            .push_opcode(op::OP_EQUAL)
            .into_script(),
        Kind::P2wsh => Builder::new().push_int(0).push_slice(push(k)).into_script(),
        Kind::P2tr => Builder::new().push_int(1).push_slice(push(k)).into_script(),
        Kind::P2pk => Builder::new().push_slice(push(&pk)).push_opcode(op::OP_CHECKSIG).into_script(),
        Kind::Multisig => {
            let mut pk2 = pk;
            pk2[5] ^= 0x5a;
            Builder::new()
                .push_int(1)
                .push_slice(push(&pk))
                .push_slice(push(&pk2))
                .push_int(2)
                .push_opcode(op::OP_CHECKMULTISIG)
                .into_script()
        }
    }
}

struct Gen<'a> {
    p: &'a SynthParams,
    rng: Rng,
    /// Spendable outputs per entity.
    wallets: Vec<Vec<Utxo>>,
    /// Entities with at least one spendable output (may hold stale entries; checked on use).
    funded: Vec<u32>,
    /// Coinbase outputs waiting for maturity: (spendable at height, entity, utxo).
    immature: std::collections::VecDeque<(u64, u32, Utxo)>,
    /// Per entity: addresses handed out so far (for reuse) as (kind, key counter).
    addrs: Vec<Vec<(Kind, u32)>>,
    counters: Vec<u32>,
    owner: HashMap<String, u32>,
    total_utxos: u64,
    sig: [u8; 72],
}

impl Gen<'_> {
    fn pick_kind(&mut self) -> Kind {
        match self.rng.below(100) {
            0..=34 => Kind::P2pkh,
            35..=64 => Kind::P2wpkh,
            65..=76 => Kind::P2sh,
            77..=82 => Kind::P2wsh,
            83..=95 => Kind::P2tr,
            96..=97 => Kind::P2pk,
            _ => Kind::Multisig,
        }
    }

    /// An output script of `entity`: a fresh address, or (40%) one it used before.
    fn pay_to(&mut self, entity: u32) -> (ScriptBuf, Kind) {
        let e = entity as usize;
        let (kind, n) = if !self.addrs[e].is_empty() && self.rng.chance(40, 100) {
            let i = self.rng.below(self.addrs[e].len() as u64) as usize;
            self.addrs[e][i]
        } else {
            let kind = self.pick_kind();
            let n = self.counters[e];
            self.counters[e] += 1;
            if self.addrs[e].len() < 8 {
                self.addrs[e].push((kind, n));
            } else {
                let i = self.rng.below(8) as usize;
                self.addrs[e][i] = (kind, n);
            }
            (kind, n)
        };
        let script = script_for(kind, &key_material(self.p.seed, entity, n));
        if self.p.keep_truth {
            self.owner.entry(script_address_string(&script, self.p.network)).or_insert(entity);
        }
        (script, kind)
    }

    fn credit(&mut self, entity: u32, u: Utxo) {
        let w = &mut self.wallets[entity as usize];
        if w.is_empty() {
            self.funded.push(entity);
        }
        w.push(u);
        self.total_utxos += 1;
    }

    /// A funded entity, chosen at random.
    fn funded_entity(&mut self) -> Option<u32> {
        while !self.funded.is_empty() {
            let i = self.rng.below(self.funded.len() as u64) as usize;
            let e = self.funded[i];
            if self.wallets[e as usize].is_empty() {
                self.funded.swap_remove(i);
                continue;
            }
            return Some(e);
        }
        None
    }

    fn other_entity(&mut self, not: u32) -> u32 {
        let e = self.rng.below(u64::from(self.p.entities)) as u32;
        if e == not {
            (e + 1) % self.p.entities
        } else {
            e
        }
    }

    fn txin(&mut self, u: &Utxo) -> TxIn {
        self.sig[5] = self.rng.next_u64() as u8;
        self.sig[40] = self.rng.next_u64() as u8;
        let mut pk = [2u8; 33];
        pk[1..9].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        let (script_sig, witness) = match u.kind {
            Kind::P2pkh => {
                (Builder::new().push_slice(push(&self.sig)).push_slice(push(&pk)).into_script(), Witness::new())
            }
            Kind::P2pk => (Builder::new().push_slice(push(&self.sig)).into_script(), Witness::new()),
            Kind::Multisig => (Builder::new().push_int(0).push_slice(push(&self.sig)).into_script(), Witness::new()),
            Kind::P2sh => {
                let redeem = [0x51u8; 25];
                (
                    Builder::new().push_int(0).push_slice(push(&self.sig)).push_slice(push(&redeem)).into_script(),
                    Witness::new(),
                )
            }
            Kind::P2wpkh => (ScriptBuf::new(), Witness::from_slice(&[&self.sig[..], &pk[..]])),
            Kind::P2wsh => (ScriptBuf::new(), Witness::from_slice(&[&[][..], &self.sig[..], &[0x51u8; 71][..]])),
            Kind::P2tr => (ScriptBuf::new(), Witness::from_slice(&[&self.sig[..64]])),
        };
        TxIn { previous_output: u.outpoint, script_sig, sequence: Sequence::MAX, witness }
    }

    /// Take random outputs of `entity` until they cover `need` (or `max` inputs, or the wallet
    /// is empty).
    fn take_until(&mut self, entity: u32, need: u64, max: usize) -> Vec<Utxo> {
        let w = &mut self.wallets[entity as usize];
        let mut out = Vec::new();
        let mut sum = 0u64;
        while sum < need && out.len() < max && !w.is_empty() {
            let i = self.rng.below(w.len() as u64) as usize;
            let u = w.swap_remove(i);
            sum += u.value;
            out.push(u);
        }
        self.total_utxos -= out.len() as u64;
        out
    }

    /// An amount between 10^lo and 10^hi satoshi, log-uniformly.
    fn amount(&mut self, lo: u32, hi: u32) -> u64 {
        let decade = lo + self.rng.below(u64::from(hi - lo)) as u32;
        let base = 10u64.pow(decade);
        base + self.rng.below(base * 9)
    }

    /// One transaction; returns it, its fee, and whether it is a CoinJoin.
    fn make_tx(&mut self) -> Option<(Transaction, u64, bool)> {
        let roll = self.rng.below(100);
        if roll < 3 {
            if let Some(t) = self.make_coinjoin() {
                return Some((t.0, t.1, true));
            }
        }
        let e = self.funded_entity()?;
        // Payments: amounts independent of the coins held, so values do not decay hop by hop.
        let mut pays: Vec<u64> = Vec::new();
        let max_inputs;
        if self.total_utxos < 2000 || (3..11).contains(&roll) {
            let n = 10 + self.rng.below(40) as usize; // batch payout (fan-out)
            for _ in 0..n {
                let a = self.amount(4, 7);
                pays.push(a);
            }
            max_inputs = 10;
        } else if roll < 21 {
            max_inputs = 5 + self.rng.below(16) as usize; // consolidation (fan-in)
        } else {
            let a = self.amount(4, 9);
            pays.push(a);
            max_inputs = 20;
        }
        let fee_est = 200 + 150 * (pays.len() as u64 + 2) + 100 * max_inputs as u64;
        let need = if pays.is_empty() { u64::MAX } else { pays.iter().sum::<u64>() + fee_est };
        let inputs = self.take_until(e, need, max_inputs);
        let total: u64 = inputs.iter().map(|u| u.value).sum();
        let fee = (200 + 150 * (pays.len() as u64 + 1) + 100 * inputs.len() as u64).min(total / 10);
        let mut avail = total - fee;
        let mut outs: Vec<(u32, u64)> = Vec::new();
        for a in pays {
            // Pay what can be afforded, keeping at least a dust margin.
            if avail < 2_000 {
                break;
            }
            let v = a.min(avail - 1_000);
            outs.push((self.other_entity(e), v));
            avail -= v;
        }
        if avail >= 1_000 || outs.is_empty() {
            outs.push((e, avail)); // change (or the consolidated sum)
        }
        let fee = total - outs.iter().map(|o| o.1).sum::<u64>();
        let mut tx = Transaction {
            version: TxVersion::TWO,
            lock_time: LockTime::ZERO,
            input: inputs.iter().map(|u| self.txin(u)).collect(),
            output: Vec::with_capacity(outs.len() + 1),
        };
        // Change goes first or last at random, as wallets shuffle.
        if self.rng.chance(50, 100) {
            outs.rotate_right(1);
        }
        let mut kinds = Vec::with_capacity(outs.len());
        for (to, v) in &outs {
            let (script, kind) = self.pay_to(*to);
            tx.output.push(TxOut { value: Amount::from_sat(*v), script_pubkey: script });
            kinds.push((*to, kind));
        }
        if self.rng.chance(5, 100) {
            let data = self.rng.next_u64().to_le_bytes();
            tx.output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: Builder::new().push_opcode(op::OP_RETURN).push_slice(push(&data)).into_script(),
            });
        }
        let txid = tx.compute_txid();
        for (vout, ((to, kind), (_, v))) in kinds.iter().zip(&outs).enumerate() {
            self.credit(*to, Utxo { outpoint: OutPoint { txid, vout: vout as u32 }, value: *v, kind: *kind });
        }
        Some((tx, fee, false))
    }

    /// Five participants of a Whirlpool-like pool (0.001, 0.01 or 0.1 BTC), one input each:
    /// five equal outputs plus the participants' change.
    fn make_coinjoin(&mut self) -> Option<(Transaction, u64)> {
        let denom = [100_000u64, 1_000_000, 10_000_000][self.rng.below(3) as usize];
        let fee_each = 500u64;
        let mut parts: Vec<(u32, Utxo)> = Vec::new();
        for _ in 0..40 {
            if parts.len() == 5 {
                break;
            }
            let Some(e) = self.funded_entity() else { break };
            if parts.iter().any(|(x, _)| *x == e) {
                continue;
            }
            let w = &mut self.wallets[e as usize];
            if let Some(i) = w.iter().position(|u| u.value >= denom + fee_each + 1_000) {
                let u = w.swap_remove(i);
                self.total_utxos -= 1;
                parts.push((e, u));
            }
        }
        if parts.len() < 5 {
            for (e, u) in parts {
                self.credit(e, u);
            }
            return None;
        }
        let mut tx = Transaction {
            version: TxVersion::ONE,
            lock_time: LockTime::ZERO,
            input: parts.iter().map(|(_, u)| self.txin(u)).collect(),
            output: Vec::new(),
        };
        let mut pays: Vec<(u32, u64, Kind)> = Vec::new();
        for (e, _) in &parts {
            let (s, k) = self.pay_to(*e);
            tx.output.push(TxOut { value: Amount::from_sat(denom), script_pubkey: s });
            pays.push((*e, denom, k));
        }
        for (e, u) in &parts {
            let change = u.value - denom - fee_each;
            let (s, k) = self.pay_to(*e);
            tx.output.push(TxOut { value: Amount::from_sat(change), script_pubkey: s });
            pays.push((*e, change, k));
        }
        let fee = parts.iter().map(|(_, u)| u.value).sum::<u64>() - pays.iter().map(|p| p.1).sum::<u64>();
        let txid = tx.compute_txid();
        for (vout, (e, v, k)) in pays.into_iter().enumerate() {
            self.credit(e, Utxo { outpoint: OutPoint { txid, vout: vout as u32 }, value: v, kind: k });
        }
        Some((tx, fee))
    }

    fn coinbase(&mut self, height: u64, value: u64, miner: u32, extra: u8) -> (Transaction, Kind) {
        let (script, kind) = self.pay_to(miner);
        let sig = Builder::new()
            .push_int(height as i64)
            .push_slice(push(&[extra, 0x63, 0x74])) // "ct": chaintrace
            .into_script();
        let tx = Transaction {
            version: TxVersion::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: sig,
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[[0u8; 32]]),
            }],
            output: vec![TxOut { value: Amount::from_sat(value), script_pubkey: script }],
        };
        (tx, kind)
    }
}

fn assemble(prev: BlockHash, time: u32, mut txdata: Vec<Transaction>) -> Block {
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        },
        txdata: Vec::new(),
    };
    // Witness commitment (BIP141) in the coinbase when any transaction has witness data.
    block.txdata = std::mem::take(&mut txdata);
    if block.txdata.iter().skip(1).any(|t| t.input.iter().any(|i| !i.witness.is_empty())) {
        if let Some(root) = block.witness_root() {
            let commitment = Block::compute_witness_commitment(&root, &[0u8; 32]);
            let mut data = vec![0xaa, 0x21, 0xa9, 0xed];
            data.extend_from_slice(commitment.as_byte_array());
            block.txdata[0].output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: Builder::new().push_opcode(op::OP_RETURN).push_slice(push(&data)).into_script(),
            });
        }
    }
    mine(&mut block);
    block
}

/// Set the merkle root and find a nonce that meets the header's (regtest) target.
fn mine(block: &mut Block) {
    block.header.merkle_root = block.compute_merkle_root().expect("has a coinbase");
    let target = block.header.target();
    while !target.is_met_by(block.block_hash()) {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
}

/// A competing block for reorganisation tests: `block`'s transactions on top of `prev`, with
/// its coinbase marked by `tag` (so the coinbase txid differs), re-mined to the regtest target.
pub fn sibling_block(block: &Block, prev: BlockHash, tag: u8) -> Block {
    let mut b = block.clone();
    b.header.prev_blockhash = prev;
    b.header.nonce = 0;
    if let Some(input) = b.txdata.first_mut().and_then(|cb| cb.input.first_mut()) {
        let mut sig = input.script_sig.to_bytes();
        sig.extend_from_slice(&[1, tag]);
        input.script_sig = ScriptBuf::from_bytes(sig);
    }
    mine(&mut b);
    b
}

/// A block holding only a coinbase of `value` satoshi (paid to a P2WPKH key derived from
/// `tag`) at `height` on top of `prev`, mined to the regtest target.
pub fn coinbase_block(prev: BlockHash, height: u64, time: u32, value: u64, tag: u8) -> Block {
    let k = key_material(u64::from(tag), u32::from(tag), height as u32);
    let sig = Builder::new().push_int(height as i64).push_slice(push(&[tag, 0x63, 0x74])).into_script();
    let cb = Transaction {
        version: TxVersion::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: sig,
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut { value: Amount::from_sat(value), script_pubkey: script_for(Kind::P2wpkh, &k) }],
    };
    assemble(prev, time, vec![cb])
}

/// `blocks` in Bitcoin Core's block-file framing (magic, length, block), unobfuscated and
/// without padding: the contents of one `blk*.dat` file.
pub fn blk_records(network: Network, blocks: &[Block]) -> Vec<u8> {
    let mut out = Vec::new();
    for b in blocks {
        let bytes = serialize(b);
        out.extend_from_slice(&network.magic().to_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Write a chain into `dir` (which must exist). Returns what was written.
pub fn generate(dir: &Path, p: &SynthParams) -> std::io::Result<SynthReport> {
    if let Some(k) = &p.xor {
        std::fs::write(dir.join("xor.dat"), k)?;
    }
    let entities = p.entities.max(10);
    let p_eff = SynthParams { entities, ..p.clone() };
    let mut g = Gen {
        p: &p_eff,
        rng: Rng::new(p.seed),
        wallets: vec![Vec::new(); entities as usize],
        funded: Vec::new(),
        immature: Default::default(),
        addrs: vec![Vec::new(); entities as usize],
        counters: vec![0; entities as usize],
        owner: HashMap::new(),
        total_utxos: 0,
        sig: [0x30; 72],
    };
    let mut w = Writer { dir, p: &p_eff, file: None, file_no: 0, pos: 0, report: SynthReport::default() };
    let genesis = genesis_block(p.network);
    w.write_block(&genesis)?;
    w.report.blocks = 1;
    let mut prev = genesis.block_hash();
    let mut time = genesis.header.time;
    let mut height = 0u64;
    let mut held: Option<Block> = None;
    let miners = (entities / 50).max(3);
    while w.report.txs < p.txs {
        height += 1;
        time += 600;
        while g.immature.front().is_some_and(|(h, _, _)| *h <= height) {
            let (_, e, u) = g.immature.pop_front().expect("checked");
            g.credit(e, u);
        }
        let mut txs =
            vec![Transaction { version: TxVersion::TWO, lock_time: LockTime::ZERO, input: vec![], output: vec![] }];
        let mut fees = 0u64;
        let want = (p.txs - w.report.txs).min(u64::from(p.txs_per_block)) as usize;
        while txs.len() - 1 < want {
            match g.make_tx() {
                Some((tx, fee, cj)) => {
                    fees += fee;
                    w.report.coinjoins += u64::from(cj);
                    txs.push(tx);
                }
                None => break,
            }
        }
        w.report.txs += (txs.len() - 1) as u64;
        let subsidy = if height / 150 >= 64 { 0 } else { 5_000_000_000u64 >> (height / 150) };
        let miner = (g.rng.below(u64::from(miners))) as u32;
        let (cb, kind) = g.coinbase(height, subsidy + fees, miner, 0);
        txs[0] = cb;
        let block = assemble(prev, time, txs);
        let cb_txid = block.txdata[0].compute_txid();
        g.immature.push_back((
            height + 100,
            miner,
            Utxo { outpoint: OutPoint { txid: cb_txid, vout: 0 }, value: subsidy + fees, kind },
        ));
        // A stale sibling (another miner's block at the same height). It is written after
        // the winning block, which the node saw first (the tie-break Core applies too).
        let stale = if p.stale_every > 0 && height.is_multiple_of(u64::from(p.stale_every)) {
            let (scb, _) = g.coinbase(height, subsidy, (miner + 1) % miners, 1);
            Some(assemble(prev, time + 1, vec![scb]))
        } else {
            None
        };
        prev = block.block_hash();
        w.report.blocks += 1;
        // Out of order on disk: sometimes hold a block back and write it after its child.
        match held.take() {
            Some(parent) => {
                w.write_block(&block)?;
                w.write_block(&parent)?;
            }
            None if p.swap_every > 0 && height.is_multiple_of(u64::from(p.swap_every)) && w.report.txs < p.txs => {
                held = Some(block);
            }
            None => w.write_block(&block)?,
        }
        if let Some(st) = stale {
            w.write_block(&st)?;
            w.report.stale_blocks += 1;
        }
    }
    if let Some(b) = held.take() {
        w.write_block(&b)?;
    }
    w.finish_file()?;
    w.report.tip = Some(prev);
    w.report.owner = std::mem::take(&mut g.owner);
    Ok(w.report)
}
