package schema

// The two readers behind DecodeRoute, for FuzzDecodeRoute to hold one to
// the other.
var (
	RouteFields = routeFields
	RouteDecode = routeDecode
)
