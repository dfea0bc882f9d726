"""The one error type the sandbox raises for bad requests; rendered as `{"id", "message"}` with its status."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, error_id: str, message: str):
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message

    def body(self) -> dict:
        return {"id": self.error_id, "message": self.message}


def bad_request(message: str, error_id: str = "bad_request") -> ApiError:
    return ApiError(400, error_id, message)


def not_found(message: str = "not found") -> ApiError:
    return ApiError(404, "not_found", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)
