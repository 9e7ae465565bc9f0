import Crypto
internal import Foundation
import HTTPTypes
import JippnasCore
import Logging
internal import OpenAPIRuntime

/// RFC 9457 problem documents.
enum Problems {
    static let mediaType = "application/problem+json"

    static func badRequest(parameter: String?, detail: String) -> Components.Schemas.Problem {
        .init(_type: "https://jippnas.go.id/problems/bad-parameter", title: "Bad request parameter", status: 400,
              detail: detail, parameter: parameter)
    }

    static func notFound(_ globalID: String) -> Components.Schemas.Problem {
        .init(_type: "https://jippnas.go.id/problems/not-found", title: "No such innovation", status: 404,
              detail: "the catalogue has no innovation \(globalID)", instance: "/api/v1/innovations/\(globalID)")
    }

    static func internalError() -> Components.Schemas.Problem {
        .init(_type: "about:blank", title: "Internal Server Error", status: 500,
              detail: "the catalogue could not be read; the server log has the cause")
    }

    static func response(_ problem: Components.Schemas.Problem) -> (HTTPResponse, HTTPBody?) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(problem)) ?? Data()
        var response = HTTPResponse(status: .init(code: problem.status))
        response.headerFields[.contentType] = mediaType
        response.headerFields[.cacheControl] = "no-store"
        return (response, HTTPBody(body))
    }
}

/// Turns what the generated code refuses before a handler runs (a value that does not decode, such as
/// `limit=ten` or `category=kesehatann`) into a 400 problem naming the parameter, and any other failure
/// into a 500 problem that leaks nothing.
struct ProblemMiddleware: ServerMiddleware {
    let logger: Logger

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?)
    {
        do {
            return try await next(request, body, metadata)
        } catch let error as ServerError where error.operationInput == nil {
            // The generated decoder does not say which parameter it refused; the same parameters through
            // the core's parser do, in the words the web page and the CLI use.
            if let invalid = Self.invalidSearchParameter(request) {
                return Problems.response(Problems.badRequest(parameter: invalid.parameter, detail: invalid.reason))
            }
            return Problems.response(Problems.badRequest(parameter: nil, detail: error.causeDescription))
        } catch {
            logger.error("catalogue API request failed", metadata: [
                "operation": "\(operationID)", "path": "\(request.path ?? "")", "error": "\(error)",
            ])
            return Problems.response(Problems.internalError())
        }
    }

    /// What is wrong with a request's search parameters, if anything.
    static func invalidSearchParameter(_ request: HTTPRequest) -> CatalogueQuery.Invalid? {
        guard let path = request.path, let items = URLComponents(string: path)?.queryItems else { return nil }
        var parameters: [String: String] = [:]
        for item in items { parameters[item.name] = item.value ?? "" }
        do {
            _ = try CatalogueQuery(parameters: parameters)
            return nil
        } catch {
            return error
        }
    }
}

/// Gives every successful JSON response a strong ETag (a hash of its body) and `Cache-Control`, and
/// answers 304 with no body when the request's `If-None-Match` already names it: a client polling the
/// hubs or a search gets bytes only when something changed.
struct ConditionalGetMiddleware: ServerMiddleware {
    let maxAge: Int

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?)
    {
        var (response, responseBody) = try await next(request, body, metadata)
        guard response.status == .ok else { return (response, responseBody) }
        response.headerFields[.cacheControl] = "public, max-age=\(maxAge)"
        // Exports stream with no known length: they are not buffered to be hashed.
        guard let bodyToHash = responseBody, case .known(let length) = bodyToHash.length, length <= 16 * 1024 * 1024 else {
            return (response, responseBody)
        }
        let bytes = try await [UInt8](collecting: bodyToHash, upTo: Int(length))
        let digest = SHA256.hash(data: bytes).prefix(16).map { String(format: "%02x", $0) }.joined()
        let etag = "\"\(digest)\""
        response.headerFields[.eTag] = etag
        if let candidates = request.headerFields[.ifNoneMatch], Self.matches(candidates, etag) {
            response.status = .notModified
            response.headerFields[.contentType] = nil
            response.headerFields[.contentLength] = nil
            return (response, nil)
        }
        return (response, HTTPBody(bytes))
    }

    /// RFC 9110 §13.1.2: `*`, or any listed tag equal under weak comparison.
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            let tag = candidate.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }
}
