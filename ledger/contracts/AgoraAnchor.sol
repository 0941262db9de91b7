// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title AgoraAnchor: publishes signed tree heads of Agora provenance logs.
/// @notice The first account that anchors a log id owns it; later anchors of that log must come
///         from the same account and must not shrink the log.
contract AgoraAnchor {
    event Anchored(bytes32 indexed logId, uint64 size, bytes32 root, uint64 timestamp);

    mapping(bytes32 => address) public owner;
    mapping(bytes32 => uint64) public latestSize;
    mapping(bytes32 => bytes32) public latestRoot;

    function anchor(bytes32 logId, uint64 size, bytes32 root, uint64 timestamp) external {
        address current = owner[logId];
        require(current == address(0) || current == msg.sender, "not the log owner");
        require(size >= latestSize[logId], "log shrank");
        owner[logId] = msg.sender;
        latestSize[logId] = size;
        latestRoot[logId] = root;
        emit Anchored(logId, size, root, timestamp);
    }
}
