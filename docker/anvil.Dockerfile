# The local Ethereum node of the production shape's demo chain: anvil, pinned, installed
# when the image is built (never fetched at run time). Build from the repository root:
#   docker build -f docker/anvil.Dockerfile .
FROM node:22-slim
RUN npm install --global --no-audit --no-fund @foundry-rs/anvil@1.7.1 \
    && anvil --version
USER node
EXPOSE 8545
ENTRYPOINT ["anvil"]
