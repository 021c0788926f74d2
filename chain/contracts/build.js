#!/usr/bin/env node
// Compiles the contracts in this directory with the pinned solc (package.json) and writes
// one JSON per deployable contract, {contractName, abi, bytecode, compiler}, to build/
// (or to the directory given with --out). The artifacts are committed; a test rebuilds
// them and fails if they differ. Usage: node chain/contracts/build.js [--out DIR]
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const SOURCES = ["Exchange.sol", "ExchangeDeployer.sol", "TestToken.sol"];
const here = __dirname;
const outFlag = process.argv.indexOf("--out");
const outDir = outFlag > 0 ? path.resolve(process.argv[outFlag + 1]) : path.join(here, "build");

const input = {
  language: "Solidity",
  sources: Object.fromEntries(
    SOURCES.map((name) => [name, { content: fs.readFileSync(path.join(here, name), "utf8") }]),
  ),
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const message of output.errors || []) console.error(message.formattedMessage);
if (errors.length) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
for (const source of SOURCES) {
  for (const [contractName, contract] of Object.entries(output.contracts[source])) {
    if (!contract.evm.bytecode.object) continue; // interfaces
    const artifact = {
      contractName,
      source: `chain/contracts/${source}`,
      compiler: `solc ${solc.version()}`,
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
    };
    fs.writeFileSync(
      path.join(outDir, `${contractName}.json`),
      `${JSON.stringify(artifact, null, 2)}\n`,
    );
    console.log(`${path.relative(process.cwd(), outDir)}/${contractName}.json`);
  }
}
