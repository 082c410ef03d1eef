"""The web process's contracts: no scikit-learn import, and an OpenAPI spec of its routes."""

from __future__ import annotations

import subprocess
import sys

from flask.testing import FlaskClient


class TestServiceImports:
    def test_service_import_does_not_load_sklearn(self) -> None:
        code = (
            "import sys, service; from service import create_app, intake, health, metrics; "
            "assert 'sklearn' not in sys.modules, 'sklearn imported'; "
            "assert 'worker' not in sys.modules, 'worker imported'"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


class TestOpenApi:
    def test_openapi_documents_intake_and_comment_routes(self, client: FlaskClient) -> None:
        spec = client.get("/openapi.json").get_json()

        intake = spec["paths"]["/v1/sources/{source_id}/comments"]["post"]
        assert set(intake["responses"]) >= {"200", "202", "400", "401", "404", "413", "415", "422"}
        assert intake["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/IncomingComment"
        }
        read = spec["paths"]["/v1/comments/{comment_id}"]["get"]
        assert read["security"] == [{"sourceToken": []}]
        schemas = spec["components"]["schemas"]
        assert {"IncomingComment", "CommentView", "AcceptedComment", "DecisionView"} <= set(schemas)
        assert set(schemas["IncomingComment"]["required"]) == {"id", "thread", "author", "body"}
