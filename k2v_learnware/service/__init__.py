"""Market service: the HTTP API the stock ``learnware.client.LearnwareClient`` speaks, over our market.

- :mod:`.settings`: what a server serves (root, market, database, limits), passed
  to every worker process through the environment;
- :mod:`.accounts`: developer accounts and their hashed tokens;
- :mod:`.uploads`: chunked uploads, bounded in size and checked by hash;
- :mod:`.user_specs`: the user's specification file a search brings (LANE, RKME, Know2Vec query);
- :mod:`.request_checks`: what a request may hold (bodies, semantic specs, ids);
- :mod:`.size_limit`: request bodies over the limit refused before they are read;
- :mod:`.replies`: ``{"code": 0, ...}`` replies and the errors every endpoint answers with;
- :mod:`.submission`: each add or update in a process of its own, bounded in time and memory, forked
  from a zygote that holds the market open (:mod:`.submission_child`);
- :mod:`.search_endpoint`: the search endpoint and its reply;
- :mod:`.app`: the FastAPI application and its other endpoints;
- :mod:`.server`: ``k2v-learnware serve`` (uvicorn, several worker processes).
"""
