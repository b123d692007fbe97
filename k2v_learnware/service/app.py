"""Market service: the FastAPI application answering every call of the stock ``LearnwareClient``.

Endpoints, payloads and ``{"code": 0, ...}`` replies follow Beimingwu's backend
(``shared/notes/beimingwu-api.md``); the search reply also carries the mixture
weights (``weight`` per mixture entry and ``mixture_weights``), which the stock
client ignores and our CLI shows. Reads are open; uploads, updates and deletes
need a token, and only a learnware's owner may update or delete it.

Each worker process holds one market object; calls into it are serialised by a
lock (the market's searchers cache embeddings on shared objects), and workers
share the store, so they see each other's changes (see :mod:`..market.organizer`).
Adds and updates run the learnware's code, so each runs in a process of its
own, outside the lock and bounded in time and memory (:mod:`.submission`).
"""

from __future__ import annotations

import os
import threading
import uuid

from fastapi import Depends, FastAPI, File, Form, Header, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from .._logging import module_logger
from starlette.exceptions import HTTPException

from .. import __version__
from .accounts import Accounts
from .replies import (
    BAD_REQUEST,
    FORBIDDEN,
    INTERNAL,
    NOT_FOUND,
    REJECTED,
    UNAUTHORISED,
    ServiceError,
    ok,
    public_message,
)
from .request_checks import (
    MAX_SEMANTIC_CHARS,
    AddUploadedBody,
    LearnwareBody,
    ListBody,
    LoginBody,
    learnware_semantic_spec,
)
from .request_checks import learnware_id as learnware_id_checked
from .settings import ServiceSettings
from .size_limit import BodyLimit
from .submission import Submissions
from .search_endpoint import MAX_SPEC_BYTES, install_search
from .uploads import UploadArea, check_zip, read_bounded

logger = module_logger("k2v_learnware.service")


#: Bodies of the routes that carry no file: an email and a token, a page number, a learnware id.
SMALL_BODY = 64 << 10


def body_limits(max_upload_bytes: int) -> dict:
    """Each route's largest body: the upload limit only where a learnware zip travels, else what the fields hold.

    A semantic specification (at most ``MAX_SEMANTIC_CHARS``) sent as a JSON
    string may double in size by escaping; a search also carries a spec file.
    """
    semantic = 2 * MAX_SEMANTIC_CHARS + SMALL_BODY
    return {"/user/chunked_upload": max_upload_bytes + SMALL_BODY,
            "/user/update_learnware": max_upload_bytes + semantic,
            "/engine/search_learnware": MAX_SPEC_BYTES + semantic,
            "/user/add_learnware_uploaded": semantic}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_request, err: ServiceError):
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, err: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in err.errors())
        return ServiceError(BAD_REQUEST, f"bad request: {problems[:2000]}").response()

    @app.exception_handler(HTTPException)
    async def _http(_request, err: HTTPException):
        code = NOT_FOUND if err.status_code == 404 else BAD_REQUEST
        return JSONResponse({"code": code, "msg": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request, err: Exception):
        logger.error(f"internal error: {type(err).__name__}: {err}", exc_info=err)
        return JSONResponse({"code": INTERNAL, "msg": "internal error; the server's log has the details"},
                            status_code=500)


def create_app(settings: ServiceSettings, market=None) -> FastAPI:
    """The service for ``settings`` (or for an already open ``market``)."""
    if not isinstance(settings, ServiceSettings):
        raise TypeError(f"settings must be a ServiceSettings, got {type(settings).__name__}")
    from learnware.config import C

    if market is None:
        from ..market import instantiate_market

        market = instantiate_market(settings.market, root=settings.root, database_url=settings.database_url)
    organizer = market.learnware_organizer
    accounts = Accounts(organizer.store.engine)
    uploads = UploadArea(os.path.join(organizer.market_store_path, "uploads"), settings.max_upload_bytes)
    submissions = Submissions(settings)
    lock = threading.RLock()
    app = FastAPI(title="k2v-learnware market service", version=__version__,
                  description="The Beimingwu HTTP API of learnware's LearnwareClient, over a k2v-learnware market.")
    app.state.market, app.state.accounts = market, accounts
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, limits=body_limits(settings.max_upload_bytes), default=SMALL_BODY)

    def account(authorization: str | None = Header(None, max_length=400)) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise ServiceError(UNAUTHORISED, "log in first: send 'Authorization: Bearer <token>'")
        email = accounts.email_for(authorization[len("Bearer "):].strip())
        if email is None:
            raise ServiceError(UNAUTHORISED, "the token is not valid")
        return email

    def owned(learnware_id: str, email: str) -> str:
        with lock:
            exists = learnware_id_checked(learnware_id) in organizer.get_learnware_ids()
            owner = organizer.owner_of(learnware_id)
        if not exists:
            raise ServiceError(NOT_FOUND, f"no learnware {learnware_id}")
        if owner != email:
            raise ServiceError(FORBIDDEN, f"learnware {learnware_id} belongs to another developer")
        return learnware_id

    def stored(learnware_id: str):
        with lock:
            learnware = organizer.get_learnware_by_ids(learnware_id_checked(learnware_id))
        if learnware is None:
            raise ServiceError(NOT_FOUND, f"no learnware {learnware_id}")
        return learnware

    @app.post("/auth/login_by_token")
    def login(body: LoginBody | None = None):
        if body is None:
            raise ServiceError(BAD_REQUEST, "send JSON {email, token}")
        if accounts.email_for(body.token) != body.email.lower():
            raise ServiceError(UNAUTHORISED, "wrong email or token")
        return ok(token=body.token)

    @app.post("/auth/logout")
    def logout(email: str = Depends(account)):
        return ok()

    @app.post("/user/chunked_upload")
    def chunked_upload(chunk_file: UploadFile = File(...), file_hash: str = Form(..., max_length=64),
                       chunk_begin: int = Form(..., ge=0), email: str = Depends(account)):
        data = read_bounded(chunk_file, settings.max_upload_bytes, "the chunk")
        return ok(received=uploads.write_chunk(email, file_hash, chunk_begin, data))

    def submit(request: dict) -> dict:
        """Run a submission in a process of its own (no lock held: it runs the learnware's code), then bring
        this worker's view of the market up to date."""
        try:
            return submissions.run(request)
        finally:
            with lock:
                organizer.refresh()

    @app.post("/user/add_learnware_uploaded")
    def add_uploaded(body: AddUploadedBody, email: str = Depends(account)):
        semantic = learnware_semantic_spec(body.semantic_specification)
        path = uploads.claim(email, body.file_hash)
        try:
            check_zip(path, settings.max_unzipped_bytes)
            result = submit({"action": "add", "zip": str(path), "semantic": semantic, "owner": email})
        finally:
            path.unlink(missing_ok=True)
        if result["learnware_id"] is None:
            raise ServiceError(REJECTED, f"the learnware was refused: "
                                         f"{public_message(result['reason'] or 'no reason given')}")
        return ok(learnware_id=result["learnware_id"], check_status=result["status"])

    @app.post("/user/update_learnware")
    def update(learnware_id: str = Form(..., max_length=40),
               semantic_specification: str = Form(..., max_length=MAX_SEMANTIC_CHARS),
               learnware_file: UploadFile | None = File(None), email: str = Depends(account)):
        semantic = learnware_semantic_spec(semantic_specification)
        owned(learnware_id, email)
        path = None
        try:
            if learnware_file is not None:
                path = uploads.folder / f"update-{uuid.uuid4().hex}.zip"
                path.write_bytes(read_bounded(learnware_file, settings.max_upload_bytes, "the learnware file"))
                check_zip(path, settings.max_unzipped_bytes)
            # without a new zip the checks still run the stored model: a process of its own either way
            result = submit({"action": "update", "learnware_id": learnware_id, "semantic": semantic,
                             "zip": None if path is None else str(path)})
        finally:
            if path is not None:
                path.unlink(missing_ok=True)
        if result["status"] == -1:
            raise ServiceError(REJECTED, f"the update was refused: "
                                         f"{public_message(result['reason'] or 'no reason given')}")
        return ok(learnware_id=learnware_id, check_status=result["status"])

    @app.post("/user/list_learnware")
    def list_learnware(body: ListBody | None = None, email: str = Depends(account)):
        body = body or ListBody()
        with lock:
            mine = [row for row in organizer.stored_rows() if row.owner == email]
        page = mine[body.page * body.limit:(body.page + 1) * body.limit]
        return ok(learnware_list=[{"learnware_id": r.learnware_id, "semantic_specification": r.semantic_spec,
                                   "check_status": r.use_flag} for r in page], total=len(mine))

    @app.post("/user/delete_learnware")
    def delete(body: LearnwareBody, email: str = Depends(account)):
        owned(body.learnware_id, email)
        with lock:
            market.delete_learnware(body.learnware_id)
        return ok(learnware_id=body.learnware_id)

    @app.get("/engine/learnware_info")
    def learnware_info(learnware_id: str = Query(..., max_length=40)):
        learnware = stored(learnware_id)
        return ok(learnware_info={"learnware_id": learnware_id,
                                  "semantic_specification": learnware.get_specification().get_semantic_spec()})

    @app.get("/engine/download_learnware")
    def download(learnware_id: str = Query(..., max_length=40)):
        learnware_id_checked(learnware_id)
        with lock:  # find and open in one step: a later delete or update cannot pull the file away
            path = organizer.get_learnware_zip_path_by_ids(learnware_id)
            try:
                handle = open(path, "rb") if path else None
            except FileNotFoundError:
                handle = None
        if handle is None:
            raise ServiceError(NOT_FOUND, f"no learnware {learnware_id}")
        size = os.fstat(handle.fileno()).st_size

        def chunks():
            with handle:
                yield from iter(lambda: handle.read(1 << 20), b"")

        return StreamingResponse(chunks(), media_type="application/zip", headers={
            "Content-Length": str(size), "Content-Disposition": f'attachment; filename="{learnware_id}.zip"'})

    @app.get("/engine/semantic_specification")
    def semantic_vocabulary():
        return ok(semantic_specification=C.semantic_specs)

    install_search(app, market, lock)
    return app


def app_from_environ() -> FastAPI:
    """The factory each uvicorn worker calls (settings from ``K2V_SERVICE_*``)."""
    return create_app(ServiceSettings.from_environ())
