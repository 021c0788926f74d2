// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// The two owner functions of the Exchange the deployer calls once, to hand it over.
interface IOwnedExchange {
    function setAdmin(address admin, bool isAdmin) external;
    function setOwner(address newOwner) external;
}

/// @title Deploys an Exchange at an address bound to one chain.
/// @notice Every signature the exchange checks covers its address (PROTOCOL.md), so two
/// deployments must never share one. A plain CREATE from the operator key lands on the same
/// address on every chain where the key has the same nonce; here the exchange is created with
/// CREATE2 and a salt that covers block.chainid and the caller, so the same key, code and salt
/// give another address on another chain. The caller becomes the exchange's admin and owner.
contract ExchangeDeployer {
    event Deployed(address exchange, address owner, uint256 chainId);

    /// The salt CREATE2 uses: the caller's salt bound to this chain and to the caller.
    function chainSalt(bytes32 salt, address caller) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, caller, salt));
    }

    /// The address deploy(initCode, salt) from `caller` creates on this chain.
    function addressOf(bytes32 initCodeHash, bytes32 salt, address caller)
        external
        view
        returns (address)
    {
        bytes32 digest = keccak256(
            abi.encodePacked(bytes1(0xff), address(this), chainSalt(salt, caller), initCodeHash)
        );
        return address(uint160(uint256(digest)));
    }

    /// Creates the exchange from its creation code (constructor arguments appended), then
    /// makes the caller its admin and owner.
    function deploy(bytes calldata initCode, bytes32 salt) external returns (address exchange) {
        bytes memory code = initCode;
        bytes32 bound = chainSalt(salt, msg.sender);
        assembly {
            exchange := create2(0, add(code, 0x20), mload(code), bound)
        }
        require(exchange != address(0), "ExchangeDeployer: deployment failed");
        IOwnedExchange(exchange).setAdmin(msg.sender, true);
        IOwnedExchange(exchange).setOwner(msg.sender);
        emit Deployed(exchange, msg.sender, block.chainid);
    }
}
