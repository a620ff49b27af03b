module github.com/noorhalvorsen/noorhalvorsen.github.io

go 1.19

require (
	github.com/HugoBlox/hugo-blox-builder/modules/blox-plugin-netlify v0.0.0-20251215001347-c72b26de8d15
	github.com/HugoBlox/hugo-blox-builder/modules/blox-tailwind v0.0.0-20251231011809-04a4a10b41bf
	github.com/HugoBlox/hugo-blox-builder/modules/blox-plugin-reveal v0.0.0-20251214235550-d15979197a2a
)
