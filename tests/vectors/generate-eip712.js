// EIP-712 test vectors for the protocol's typed data (docs/signing-eip712.md), computed by
// ethers (v6) as a JavaScript client does: TypedDataEncoder.hash for the digest,
// Wallet.signTypedData for the signature.
//   node tests/vectors/generate-eip712.js                 writes eip712-ethers.json
//   node tests/vectors/generate-eip712.js --check FILE    checks FILE's digests and
//     signatures (the vectors eth-account generated) with ethers; exits 1 on a mismatch.
// tests/chain/test_typed_data.py runs both and checks the JSON against chain/ and the contract.
const fs = require("fs");
const path = require("path");
const { Wallet, TypedDataEncoder, verifyTypedData, version } = require("ethers");

const MAX = (2n ** 256n - 1n).toString();
const KEYS = [
  "0x0000000000000000000000000000000000000000000000000000000000000001",
  "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
  "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
];
const ANVIL_FIRST_CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const OTHER_CONTRACT = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512";
const ETHER = "0x0000000000000000000000000000000000000000";
const TOKEN = "0xa2b31dacf30a9c50ca473337c01d8a201ae33e32";
// The last two: the same messages bound to another chain and to another contract.
const DOMAINS = [
  [31337, ANVIL_FIRST_CONTRACT],
  [1, ANVIL_FIRST_CONTRACT],
  [31337, OTHER_CONTRACT],
];

// The same types as exchange/protocol/typed_data.py STRUCTS.
const TYPES = {
  Order: [
    { name: "contractAddress", type: "address" },
    { name: "account", type: "address" },
    { name: "giveTokenAddress", type: "address" },
    { name: "giveAmount", type: "uint256" },
    { name: "takeTokenAddress", type: "address" },
    { name: "takeAmount", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "expiryTimestampInMilliseconds", type: "uint256" },
  ],
  Cancel: [
    { name: "orderHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
  ],
  Trade: [
    { name: "contractAddress", type: "address" },
    { name: "orderHash", type: "bytes32" },
    { name: "amount", type: "uint256" },
    { name: "account", type: "address" },
    { name: "nonce", type: "uint256" },
  ],
  Withdraw: [
    { name: "contractAddress", type: "address" },
    { name: "tokenAddress", type: "address" },
    { name: "amount", type: "uint256" },
    { name: "account", type: "address" },
    { name: "nonce", type: "uint256" },
  ],
};

function domainOf(chainId, contract) {
  return { name: "Relayer Exchange", version: "1", chainId, verifyingContract: contract };
}

function messages(account, contract, index) {
  const orderHash = `0x${(index + 1).toString(16).padStart(2, "0").repeat(32)}`;
  return [
    [
      "Order",
      {
        contractAddress: contract,
        account,
        giveTokenAddress: ETHER,
        giveAmount: "10000000000000000",
        takeTokenAddress: TOKEN,
        takeAmount: "20000000000000000",
        nonce: "1506550595000",
        expiryTimestampInMilliseconds: "1506550595000",
      },
    ],
    [
      "Order",
      {
        contractAddress: contract,
        account,
        giveTokenAddress: TOKEN,
        giveAmount: MAX,
        takeTokenAddress: ETHER,
        takeAmount: "1",
        nonce: "0",
        expiryTimestampInMilliseconds: String(9007199254740993n + BigInt(index)),
      },
    ],
    ["Cancel", { orderHash, nonce: String(1700000000000 + index) }],
    ["Trade", { contractAddress: contract, orderHash, amount: MAX, account, nonce: "42" }],
    [
      "Withdraw",
      { contractAddress: contract, tokenAddress: TOKEN, amount: "1", account, nonce: "7" },
    ],
  ];
}

async function generate() {
  const vectors = [];
  for (const [index, privateKey] of KEYS.entries()) {
    const wallet = new Wallet(privateKey);
    const address = wallet.address.toLowerCase();
    for (const [chainId, contract] of DOMAINS) {
      const domain = domainOf(chainId, contract);
      for (const [primaryType, message] of messages(address, contract, index)) {
        const types = { [primaryType]: TYPES[primaryType] };
        vectors.push({
          primaryType,
          privateKey,
          address,
          domain,
          message,
          digest: TypedDataEncoder.hash(domain, types, message),
          signature: await wallet.signTypedData(domain, types, message),
        });
      }
    }
  }
  const out = path.join(__dirname, "eip712-ethers.json");
  const body = { generator: `ethers ${version}`, vectors };
  fs.writeFileSync(out, `${JSON.stringify(body, null, 2)}\n`);
  console.log(`wrote ${vectors.length} vectors to ${path.relative(process.cwd(), out)}`);
}

function check(file) {
  const { vectors } = JSON.parse(fs.readFileSync(file, "utf8"));
  let bad = 0;
  for (const vector of vectors) {
    const types = { [vector.primaryType]: TYPES[vector.primaryType] };
    const digest = TypedDataEncoder.hash(vector.domain, types, vector.message);
    const signer = verifyTypedData(vector.domain, types, vector.message, vector.signature);
    if (digest !== vector.digest || signer.toLowerCase() !== vector.address) {
      console.error(`mismatch: ${JSON.stringify(vector)} -> ${digest} ${signer}`);
      bad += 1;
    }
  }
  console.log(`checked ${vectors.length} vectors, ${bad} mismatches`);
  process.exit(bad ? 1 : 0);
}

const flag = process.argv.indexOf("--check");
if (flag > 0) check(process.argv[flag + 1]);
else generate();
