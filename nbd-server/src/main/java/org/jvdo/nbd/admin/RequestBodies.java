package org.jvdo.nbd.admin;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.Set;
import org.jvdo.core.Pool;
import org.jvdo.nbd.Sizes;

/**
 * The admin API's request bodies and JSON answers: reads and validates a body's fields
 * (unknown fields, {@code logical_size}, {@code engine}) and writes JSON replies and errors
 * ({@code {"error": ..., "field": ...}}). Owns no state; used by {@link AdminServer}'s routes.
 */
final class RequestBodies {
    private RequestBodies() { }

    /** The body as a JSON object with only {@code allowed} keys, or null with a 400 sent. */
    static JsonObject body(RoutingContext ctx, Set<String> allowed) {
        JsonObject o;
        try {
            if (ctx.body() == null || ctx.body().buffer() == null || ctx.body().length() == 0) {
                error(ctx, 400, "a JSON object body is required", "body");
                return null;
            }
            Object parsed = ctx.body().asJsonObject();
            o = (JsonObject) parsed;
            if (o == null) {                       // the body `null`
                error(ctx, 400, "the body is not a JSON object (null)", "body");
                return null;
            }
        } catch (DecodeException | ClassCastException e) {
            error(ctx, 400, "the body is not a JSON object", "body");
            return null;
        }
        for (String k : o.fieldNames()) {
            if (!allowed.contains(k)) {
                error(ctx, 400, "unknown field " + k + " (allowed: " + String.join(", ", allowed) + ")", k);
                return null;
            }
        }
        return o;
    }

    /** {@code logical_size} as bytes rounded up to 4096, or null with a 400 sent. */
    static Long size(RoutingContext ctx, JsonObject body, boolean required) {
        Object s = body.getValue("logical_size");
        if (s == null) {
            if (required) error(ctx, 400, "logical_size is required (bytes, or a string such as \"64G\")", "logical_size");
            return null;
        }
        long bytes;
        if (s instanceof Number num) {
            if (!(s instanceof Integer || s instanceof Long) || num.longValue() <= 0) {
                error(ctx, 400, "logical_size must be a positive whole number of bytes or a string such as \"64G\"", "logical_size");
                return null;
            }
            bytes = num.longValue();
        } else if (s instanceof String str) {
            try {
                bytes = Sizes.parse(str);
            } catch (IllegalArgumentException e) {
                error(ctx, 400, "logical_size: " + e.getMessage(), "logical_size");
                return null;
            }
        } else {
            error(ctx, 400, "logical_size must be a number of bytes or a string such as \"64G\"", "logical_size");
            return null;
        }
        if (bytes > org.jvdo.core.physical.SuperBlock.MAX_LOGICAL_BLOCKS * 4096) {
            error(ctx, 400, "logical_size is larger than the volume limit of 4 PiB (2^40 blocks)", "logical_size");
            return null;
        }
        return (bytes + 4095) / 4096 * 4096;
    }

    /** {@code engine} if valid; null with a 400 sent when invalid (or missing and required). */
    static String engine(RoutingContext ctx, Pool pool, JsonObject body, boolean required) {
        Object e = body.getValue("engine");
        if (e == null) {
            if (required) error(ctx, 400, "engine is required (one of " + pool.engineNames() + ")", "engine");
            return null;
        }
        if (!(e instanceof String s) || !pool.engineNames().contains(s)) {
            error(ctx, 400, "engine must be one of " + pool.engineNames(), "engine");
            return null;
        }
        return s;
    }

    static void json(RoutingContext ctx, int status, JsonObject o) {
        send(ctx, status, "application/json", o.encodePrettily() + "\n");
    }

    /** Ends the reply with {@code body}; to HEAD with the same headers (Content-Length included) and no body. */
    static void send(RoutingContext ctx, int status, String contentType, String body) {
        byte[] bytes = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ctx.response().setStatusCode(status).putHeader("Content-Type", contentType)
                .putHeader("Content-Length", String.valueOf(bytes.length));
        if (ctx.request().method() == io.vertx.core.http.HttpMethod.HEAD) ctx.response().end();
        else ctx.response().end(io.vertx.core.buffer.Buffer.buffer(bytes));
    }

    static void error(RoutingContext ctx, int status, String message, String field) {
        if (ctx.response().ended()) return;
        JsonObject o = new JsonObject().put("error", message);
        if (field != null) o.put("field", field);
        json(ctx, status, o);
    }
}
