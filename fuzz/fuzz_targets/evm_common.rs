// Shared by the evm_* targets (included with `include!`): a two-transaction block and its
// receipts in the shape eth_getBlockByNumber / eth_getBlockReceipts return.

#[allow(dead_code)]
const BLOCK: &[u8] = br#"{"number":"0x10","hash":"0x1111111111111111111111111111111111111111111111111111111111111111",
"parentHash":"0x2222222222222222222222222222222222222222222222222222222222222222","timestamp":"0x5f5e100",
"transactions":[
 {"hash":"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1","from":"0x00000000000000000000000000000000000000b1",
  "to":"0x00000000000000000000000000000000000000c1","value":"0x5","transactionIndex":"0x0"},
 {"hash":"0xa2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2","from":"0x00000000000000000000000000000000000000b2",
  "to":null,"value":"0x7","transactionIndex":"0x1"}]}"#;

#[allow(dead_code)]
const RECEIPTS: &[u8] = br#"[
 {"transactionHash":"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1","transactionIndex":"0x0","status":"0x1",
  "contractAddress":null,"logs":[{"address":"0x00000000000000000000000000000000000000dd",
  "topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
            "0x00000000000000000000000000000000000000000000000000000000000000b1",
            "0x00000000000000000000000000000000000000000000000000000000000000c1"],
  "data":"0x0000000000000000000000000000000000000000000000000000000000000009","logIndex":"0x0","removed":false}]},
 {"transactionHash":"0xa2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2","transactionIndex":"0x1","status":"0x1",
  "contractAddress":"0x00000000000000000000000000000000000000ee","logs":[]}]"#;
